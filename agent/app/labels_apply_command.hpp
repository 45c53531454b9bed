// `kontena-agent labels --apply`: derive the labels (IMDS), put them on the Docker engine,
// verify them, once. Prints one summary line on stdout.
#pragma once

#include "app/agent_options.hpp"

namespace kn::app {

int apply_labels_command(const AgentOptions& options);

}  // namespace kn::app

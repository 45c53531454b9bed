// `kontena-agent doctor`: one line per check of what the agent depends on (IMDS, the Docker
// engine and its labels, the master's address and token), each with the fix when it fails.
// Exit 0 when every check passes, 1 when any fails. Changes nothing.
#pragma once

#include "app/agent_options.hpp"

namespace kn::app {

int doctor_command(const AgentOptions& options);

}  // namespace kn::app

// `kontena-agent labels`: derive the node labels and print them; changes nothing.
#pragma once

#include "core/labels.hpp"
#include "app/agent_options.hpp"

#include <string>

namespace kn::app {

enum class LabelFormat { text, env, json };

// text: one key=value per line; env: KONTENA_NODE_LABELS="k=v k=v" (EnvironmentFile= and
// shell compatible); json: one object of key: value.
std::string format_labels(const LabelSet& labels, LabelFormat format);

int labels_command(const AgentOptions& options, LabelFormat format);

}  // namespace kn::app

#include "app/labels_command.hpp"

#include "cli/cli.hpp"
#include "node/node_labels.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

namespace kn::app {

std::string format_labels(const LabelSet& labels, LabelFormat format) {
  switch (format) {
    case LabelFormat::text: {
      std::string out;
      for (const auto& l : labels.items()) out += l.str() + "\n";
      return out;
    }
    case LabelFormat::env: {
      // Label values cannot hold quotes, backslashes or whitespace (validate_label), so
      // double quotes are safe for both systemd's EnvironmentFile= and POSIX shells.
      return fmt::format("KONTENA_NODE_LABELS=\"{}\"\n", fmt::join(labels.strings(), " "));
    }
    case LabelFormat::json: {
      nlohmann::ordered_json obj = nlohmann::ordered_json::object();
      for (const auto& l : labels.items()) obj[l.key] = l.value;
      return obj.dump(2) + "\n";
    }
  }
  return {};
}

int labels_command(const AgentOptions& options, LabelFormat format) {
  auto identity = node::read_node_identity(options.node);
  if (!identity) return cli::report(identity.error());
  std::cout << format_labels(identity->labels, format) << std::flush;
  return exit_code::ok;
}

}  // namespace kn::app

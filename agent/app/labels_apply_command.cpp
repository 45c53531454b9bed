#include "app/labels_apply_command.hpp"

#include "cli/cli.hpp"
#include "node/node_labels.hpp"

#include <iostream>

namespace kn::app {

int apply_labels_command(const AgentOptions& options) {
  auto identity = node::read_node_identity(options.node);
  if (!identity) return cli::report(identity.error());
  auto report = docker::apply_labels(identity->labels, options.node.docker);
  if (!report) return cli::report(report.error());
  std::cout << report->summary << '\n' << std::flush;
  return exit_code::ok;
}

}  // namespace kn::app

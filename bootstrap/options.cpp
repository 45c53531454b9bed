#include "bootstrap/options.hpp"

#include "core/atomic_file.hpp"

namespace kn::bootstrap {

Result<BootstrapOptions> bootstrap_options(const config::Settings& settings) {
  BootstrapOptions o;
  auto node = node::node_options(settings);
  if (!node) return node.error();
  o.node = std::move(*node);
  o.root = settings.value("root");
  o.metadata_env = under_root(o.root, settings.value("metadata-env"));
  o.templates_dir = under_root(o.root, settings.value("templates-dir"));
  o.unit_dir = under_root(o.root, settings.value("unit-dir"));
  // The option table accepts only these choices, stored in its spelling.
  o.compat = parse_compat(settings.value("metadata-compat")).value_or(Compat::none);
  o.start_units = settings.get_list("start-units");
  o.restart_units = settings.get_list("restart-units");
  o.node.docker.root = o.root;
  return o;
}

}  // namespace kn::bootstrap

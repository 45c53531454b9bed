#include "bootstrap/metadata_command.hpp"

#include "cli/cli.hpp"
#include "node/node_labels.hpp"

#include <ostream>

namespace kn::bootstrap {

Result<InstanceMetadata> read_instance_metadata(const node::NodeOptions& options, LabelSet* labels_out) {
  auto identity = node::read_node_identity(options, {.addresses = true});
  if (!identity) return identity.error();
  auto md = InstanceMetadata::collect(identity->placement ? &*identity->placement : nullptr, identity->labels);
  if (!md) return md.error();
  if (labels_out != nullptr) *labels_out = std::move(identity->labels);
  return md;
}

int metadata_command(const BootstrapOptions& options, MetadataFormat format, std::ostream& out) {
  auto md = read_instance_metadata(options.node);
  if (!md) return cli::report(md.error());
  const auto env = md->environment(options.compat);
  if (format == MetadataFormat::json) {
    out << format_json(env).dump(2) << '\n';
  } else {
    out << format_env_file(env);
  }
  out.flush();
  return exit_code::ok;
}

}  // namespace kn::bootstrap

#include "bootstrap/metadata_command.hpp"

#include "cli/cli.hpp"
#include "node/node_labels.hpp"

#include <ostream>

namespace kn::bootstrap {

Result<InstanceMetadata> read_instance_metadata(const config::Settings& settings, LabelSet* labels_out) {
  auto identity = app::read_node_identity(settings, {.addresses = true});
  if (!identity) return identity.error();
  auto md = InstanceMetadata::collect(identity->placement ? &*identity->placement : nullptr, identity->labels);
  if (!md) return md.error();
  if (labels_out != nullptr) *labels_out = std::move(identity->labels);
  return md;
}

Compat compat_setting(const config::Settings& settings) {
  return parse_compat(settings.get_or("metadata-compat", "none")).value_or(Compat::none);
}

std::filesystem::path under_root(const std::filesystem::path& root, const std::filesystem::path& path) {
  return root / path.relative_path();
}

int metadata_command(const config::Settings& settings, MetadataFormat format, std::ostream& out) {
  auto md = read_instance_metadata(settings);
  if (!md) return cli::report(md.error());
  const auto env = md->environment(compat_setting(settings));
  if (format == MetadataFormat::json) {
    out << format_json(env).dump(2) << '\n';
  } else {
    out << format_env_file(env);
  }
  out.flush();
  return exit_code::ok;
}

}  // namespace kn::bootstrap

// `kontena-bootstrap metadata`: print the instance metadata `apply` would inject; changes nothing.
#pragma once

#include "bootstrap/metadata_env.hpp"
#include "core/settings.hpp"

#include <filesystem>
#include <iosfwd>

namespace kn::bootstrap {

enum class MetadataFormat { env, json };

// Reads IMDS as the settings say (addresses included) and collects the metadata.
Result<InstanceMetadata> read_instance_metadata(const config::Settings& settings, LabelSet* labels_out = nullptr);

// The metadata-compat setting (validated by the option table).
Compat compat_setting(const config::Settings& settings);

// `root` / `path` with `path` taken as relative to the root (/run/x under /tmp/r: /tmp/r/run/x).
std::filesystem::path under_root(const std::filesystem::path& root, const std::filesystem::path& path);

int metadata_command(const config::Settings& settings, MetadataFormat format, std::ostream& out);

}  // namespace kn::bootstrap

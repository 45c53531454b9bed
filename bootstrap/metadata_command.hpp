// `kontena-bootstrap metadata`: print the instance metadata `apply` would inject; changes nothing.
#pragma once

#include "bootstrap/metadata_env.hpp"
#include "bootstrap/options.hpp"

#include <filesystem>
#include <iosfwd>

namespace kn::bootstrap {

enum class MetadataFormat { env, json };

// Reads IMDS as the settings say (addresses included) and collects the metadata.
Result<InstanceMetadata> read_instance_metadata(const node::NodeOptions& options, LabelSet* labels_out = nullptr);

int metadata_command(const BootstrapOptions& options, MetadataFormat format, std::ostream& out);

}  // namespace kn::bootstrap

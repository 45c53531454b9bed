// `kontena-bootstrap render`: the ASG user-data from a values file (values_file.hpp), as
// Container Linux cloud-config or Ignition 3.3.0 JSON. Runs off the instance: no IMDS, no
// network. Writes the user-data to `output` (stdout when empty) and one summary line to stderr.
#pragma once

#include "bootstrap/user_data.hpp"

#include <filesystem>

namespace kn::bootstrap {

int render_command(const std::filesystem::path& values_file, Format format, const std::filesystem::path& output);

}  // namespace kn::bootstrap

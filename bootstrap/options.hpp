// The typed settings of kontena-bootstrap apply/metadata, built once in main.
#pragma once

#include "bootstrap/metadata_env.hpp"
#include "core/settings.hpp"
#include "node/options.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kn::bootstrap {

struct BootstrapOptions {
  node::NodeOptions node;
  std::filesystem::path root;           // prefix for every file read and written; "/" on an instance
  std::filesystem::path metadata_env;   // under root
  std::filesystem::path templates_dir;  // under root
  std::filesystem::path unit_dir;       // under root
  Compat compat = Compat::none;
  std::vector<std::string> start_units;
  std::vector<std::string> restart_units;
};

Result<BootstrapOptions> bootstrap_options(const config::Settings& settings);

}  // namespace kn::bootstrap

// The typed settings every command of both binaries shares, built once from the option
// table's values (core/settings.hpp) at start. Nothing below the commands reads a setting
// by key: it gets one of these structs, or a part of it.
#pragma once

#include "core/placement.hpp"
#include "core/settings.hpp"
#include "docker/label_applier.hpp"
#include "imds/imds_client.hpp"

#include <spdlog/common.h>

#include <string>

namespace kn::node {

struct ImdsSettings {
  bool disabled = false;          // imds-disabled: only the static labels
  std::string disabled_by;        // where that came from ("AWS_EC2_METADATA_DISABLED"), for messages
  bool verify_placement = false;  // verify-placement: one more request to cross-check the zone
  imds::Options client;           // endpoint resolved from imds-endpoint / imds-endpoint-mode
};

struct NodeOptions {
  spdlog::level::level_enum log_level = spdlog::level::info;
  ImdsSettings imds;
  LabelOptions labels;            // ephemeral, node-labels (parsed and checked)
  docker::ApplyOptions docker;    // docker-config, docker-host, docker-pidfile, docker-reload-timeout
};

// Errc::config_invalid naming the setting's origin when a value is valid alone but not as
// used (a node label that breaks the label rules).
Result<NodeOptions> node_options(const config::Settings& settings);

}  // namespace kn::node

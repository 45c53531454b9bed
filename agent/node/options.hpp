// Typed option structs shared by several commands (kontena-agent and kontena-bootstrap).
#pragma once

#include "core/settings.hpp"
#include "docker/label_applier.hpp"

namespace kn::node {

// ApplyOptions from the settings docker-config, docker-host, docker-pidfile and
// docker-reload-timeout (the same for `labels --apply`, `run`, its periodic check and
// `kontena-bootstrap apply`).
docker::ApplyOptions apply_options(const config::Settings& settings);

}  // namespace kn::node

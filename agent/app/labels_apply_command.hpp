// `kontena-agent labels --apply`: derive the labels (IMDS), put them on the Docker engine,
// verify them, once. Prints one summary line on stdout.
#pragma once

#include "core/settings.hpp"
#include "docker/label_applier.hpp"

namespace kn::docker {

// ApplyOptions from the settings docker-config, docker-host, docker-pidfile and
// docker-reload-timeout (the same for `labels --apply`, `run` and its periodic check).
ApplyOptions apply_options(const config::Settings& settings);

int apply_labels_command(const config::Settings& settings);

}  // namespace kn::docker

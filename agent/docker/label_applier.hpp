// Puts the node labels on the Docker engine: merge into daemon.json (atomically, keeping
// everything else), reload dockerd without restarting it, verify through GET /info.
// Idempotent: when the file already holds the labels nothing is written or reloaded.
// Facts: shared/reference/docker-systemd-cloudconfig.md sections 1 and 2.
#pragma once

#include "core/error.hpp"
#include "core/labels.hpp"

#include <chrono>
#include <filesystem>
#include <string>

namespace kn::docker {

struct ApplyOptions {
  std::filesystem::path daemon_json = "/etc/docker/daemon.json";
  std::string docker_host = "unix:///var/run/docker.sock";
  std::filesystem::path pidfile = "/var/run/docker.pid";
  // Prefix for the files read and written (daemon.json, docker.service drop-ins), for
  // image builds and tests (kontena-bootstrap --root). "/" on a live system.
  std::filesystem::path root = "/";
  bool reload = true;  // false: only write the file (dockerd not started yet, at boot)
  std::chrono::milliseconds verify_deadline{10000};
};

struct ApplyReport {
  bool file_changed = false;    // daemon.json was rewritten
  bool dockerd_running = false;
  bool reloaded = false;        // dockerd was told to reload
  bool verified = false;        // GET /info shows exactly the wanted labels for the managed keys
  std::string summary;          // one line for humans, e.g. "labels already applied"
};

// Errors: Errc::docker_config_invalid (malformed daemon.json: file and parser position; dockerd
// started with --label flags: the fix), Errc::label_invalid, Errc::file_io,
// Errc::docker_unavailable, Errc::docker_reload_failed.
Result<ApplyReport> apply_labels(const LabelSet& labels, const ApplyOptions& options);

}  // namespace kn::docker

// Puts the node labels on the Docker engine: merge into daemon.json (atomically, keeping
// everything else), reload dockerd without restarting it, verify through GET /info.
// Idempotent: when the file already holds the labels nothing is written or reloaded.
// See https://docs.docker.com/engine/reference/commandline/dockerd/#daemon-configuration-file.
#pragma once

#include "core/error.hpp"
#include "core/labels.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

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
  bool verified = false;        // GET /info shows exactly the file's labels (managed and kept ones)
  std::string summary;          // one line for humans, e.g. "labels already applied"
  std::filesystem::path file;   // the daemon.json read and maybe written (root applied)
  std::vector<std::string> labels;  // its "labels" array after the merge
  std::string reload_method;    // "SIGHUP to dockerd pid N" or "ReloadUnit docker.service (...)"; empty: none
  std::chrono::milliseconds verify_wait{0};  // from reload to GET /info showing the labels
};

// Steps, in order, each only when needed: validate the labels; read and merge daemon.json;
// refuse when dockerd gets --label flags (running command line or DOCKER_OPTS drop-ins);
// write the file; (reload) compare GET /info with the file's labels, reload dockerd when they
// differ (ReloadUnit docker.service under systemd, else SIGHUP) and poll GET /info until it
// shows them. Blocking; callable from any thread (it makes its own transport).
// Errors: Errc::docker_config_invalid (malformed daemon.json: file and parser position; dockerd
// started with --label flags: the fix), Errc::label_invalid, Errc::file_io,
// Errc::docker_unavailable, Errc::docker_reload_failed, Errc::systemd_failed (ReloadUnit refused).
Result<ApplyReport> apply_labels(const LabelSet& labels, const ApplyOptions& options);

}  // namespace kn::docker

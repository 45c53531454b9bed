// Makes a running dockerd re-read daemon.json without restarting it, and waits until the
// Engine API shows the wanted labels.
//
// dockerd reloads its configuration file on SIGHUP; docker.service's ExecReload sends exactly
// that, so under systemd the reload goes through the manager (ReloadUnit docker.service) and
// systemd sees the reload; outside systemd the signal goes straight to the pid in the pidfile.
// A reload that dockerd rejects (unreadable or invalid file, an option also given as a flag)
// is only logged by dockerd, which keeps its old configuration: so success is judged by
// GET /info alone. https://docs.docker.com/engine/reference/commandline/dockerd/#configuration-reload-behavior
#pragma once

#include "core/clock.hpp"
#include "core/error.hpp"
#include "docker/engine_client.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kn::docker {

// The dockerd pid from its pidfile, checked against /proc (a stale pidfile must not make us
// signal an unrelated process). Errc::docker_reload_failed when missing, stale or not dockerd.
Result<pid_t> dockerd_pid(const std::filesystem::path& pidfile);

enum class ReloadMethod { systemd_unit, sighup };

struct ReloadRequest {
  ReloadMethod method = ReloadMethod::sighup;
  pid_t pid = 0;
  std::string unit;  // systemd_unit: the unit dockerd runs in
  std::string describe() const;  // "ReloadUnit docker.service" or "SIGHUP to pid 123"
};

// systemd_unit when `pid` runs in docker.service (sd_pid_get_unit), otherwise sighup.
ReloadRequest choose_reload(pid_t pid);

// Sends the reload. Errc::docker_reload_failed (signal refused) or Errc::systemd_failed.
Status send_reload(const ReloadRequest& request);

// Label lists compared as sets, as dockerd stores them (a map: order and exact duplicates
// are lost).
bool same_labels(const std::vector<std::string>& a, const std::vector<std::string>& b);

struct Verification {
  std::vector<std::string> engine_labels;  // the last labels GET /info showed
  std::chrono::milliseconds waited{0};
};

// Polls GET /info until its labels equal `wanted` (as sets) or `deadline` passes.
// Errc::docker_reload_failed when the deadline passes (the message names the labels seen,
// the wanted ones and the likely causes); Errc::docker_unavailable when the engine stops answering.
Result<Verification> await_labels(EngineClient& engine, const std::vector<std::string>& wanted,
                                  std::chrono::milliseconds deadline, const std::filesystem::path& config_file,
                                  Clock& clock);

}  // namespace kn::docker

#include "docker/reloader.hpp"

#include "core/atomic_file.hpp"
#include "core/logging.hpp"
#include "systemd/service_manager.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <set>

namespace kn::docker {
namespace {

// The unit Docker's packages (and Flatcar) install; its ExecReload is `kill -s HUP $MAINPID`.
constexpr std::string_view kDockerUnit = "docker.service";
constexpr std::chrono::milliseconds kPollInterval{100};

std::string join(const std::vector<std::string>& items) { return fmt::format("[{}]", fmt::join(items, " ")); }

}  // namespace

Result<pid_t> dockerd_pid(const std::filesystem::path& pidfile) {
  auto text = read_file(pidfile);
  if (!text) return Failure(Errc::docker_reload_failed, "failed to find dockerd: " + text.error().message);
  if (!*text) {
    return fail(Errc::docker_reload_failed, "failed to find dockerd: no pid file " + pidfile.string() +
                                                " (set --docker-pidfile to the path dockerd's --pidfile names)");
  }
  std::string_view digits = **text;
  while (!digits.empty() && (digits.back() == '\n' || digits.back() == ' ')) digits.remove_suffix(1);
  pid_t pid = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || pid <= 1) {
    return fail(Errc::docker_reload_failed,
                "failed to find dockerd: " + pidfile.string() + " does not hold a pid ('" + std::string(digits) + "')");
  }
  auto comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  const std::string name = comm && *comm ? **comm : std::string();
  if (!name.starts_with("dockerd")) {
    return fail(Errc::docker_reload_failed, "failed to find dockerd: " + pidfile.string() + " names pid " +
                                                std::to_string(pid) + ", which is " +
                                                (name.empty() ? std::string("not running") : "not dockerd") +
                                                " (stale pid file? set --docker-pidfile)");
  }
  return pid;
}

std::string ReloadRequest::describe() const {
  if (method == ReloadMethod::systemd_unit) return "ReloadUnit " + unit + " (dockerd pid " + std::to_string(pid) + ")";
  return "SIGHUP to dockerd pid " + std::to_string(pid);
}

ReloadRequest choose_reload(pid_t pid) {
  ReloadRequest request{.pid = pid};
  if (auto unit = systemd::unit_of_pid(pid); unit && *unit == kDockerUnit) {
    request.method = ReloadMethod::systemd_unit;
    request.unit = *unit;
  }
  return request;
}

Status send_reload(const ReloadRequest& request) {
  auto log = log::get("docker");
  bool signal = request.method == ReloadMethod::sighup;
  if (!signal) {
    auto manager = systemd::connect_system_bus();
    if (manager) {
      if (auto st = (*manager)->reload_unit(request.unit); !st) return st;
    } else {
      // No bus in reach (e.g. a sandbox without D-Bus access): docker.service's ExecReload
      // is the same SIGHUP, only systemd does not see the reload.
      log->warn("{}; sending SIGHUP to dockerd pid {} directly", manager.error().message, request.pid);
      signal = true;
    }
  }
  if (signal && ::kill(request.pid, SIGHUP) != 0) {
    return fail(Errc::docker_reload_failed, "failed to signal dockerd (pid " + std::to_string(request.pid) +
                                                "): " + std::strerror(errno) + " (run as root)");
  }
  log->info("asked dockerd to reload its configuration: {}",
            signal ? "SIGHUP to dockerd pid " + std::to_string(request.pid) : request.describe());
  return {};
}

bool same_labels(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::set<std::string>(a.begin(), a.end()) == std::set<std::string>(b.begin(), b.end());
}

Result<Verification> await_labels(EngineClient& engine, const std::vector<std::string>& wanted,
                                  std::chrono::milliseconds deadline, const std::filesystem::path& config_file,
                                  Clock& clock) {
  const auto start = clock.now();
  Verification v;
  for (;;) {
    auto labels = engine.labels();
    if (!labels) return labels.error();
    v.engine_labels = std::move(*labels);
    v.waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - start);
    if (same_labels(v.engine_labels, wanted)) return v;
    if (clock.now() - start >= deadline) break;
    clock.sleep_for(kPollInterval);
    if (clock.stopped()) return fail(Errc::stopped, "stopped while waiting for dockerd to show the labels");
  }
  return fail(Errc::docker_reload_failed,
              "failed to apply labels to dockerd: after " + std::to_string(v.waited.count()) + " ms it still shows " +
                  join(v.engine_labels) + " instead of " + join(wanted) +
                  "; dockerd keeps its old configuration when it rejects " + config_file.string() +
                  ". Likely causes: dockerd reads another file (its --config-file), the file is not readable by dockerd, "
                  "or an option in it is also given as a dockerd flag. dockerd logs the reason: journalctl -u docker");
}

}  // namespace kn::docker

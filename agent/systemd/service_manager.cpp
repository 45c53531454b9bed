#include "systemd/service_manager.hpp"

#include "core/logging.hpp"

#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace kn::systemd {
namespace {

// org.freedesktop.systemd1(5): the manager object and its interface.
// https://www.freedesktop.org/software/systemd/man/org.freedesktop.systemd1.html
constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kInterface = "org.freedesktop.systemd1.Manager";
// "replace": the new job replaces a conflicting queued one, as systemctl does by default.
constexpr const char* kMode = "replace";

std::string errno_text(int r) { return std::strerror(-r); }

// The outcome of one job, filled in by the JobRemoved(u id, o job, s unit, s result) signal.
struct JobWaiter {
  std::string job;  // object path returned by the method; empty until known
  std::string result;
  bool done = false;
  // JobRemoved may arrive before the method's reply has been read, so remember them all.
  std::vector<std::pair<std::string, std::string>> seen;  // (job, result)
};

int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
  auto* waiter = static_cast<JobWaiter*>(userdata);
  std::uint32_t id = 0;
  const char* job = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  waiter->seen.emplace_back(job, result);
  if (!waiter->job.empty() && waiter->job == job) {
    waiter->result = result;
    waiter->done = true;
  }
  return 0;
}

class BusError {
 public:
  BusError() = default;
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;
  ~BusError() { sd_bus_error_free(&error_); }
  sd_bus_error* get() { return &error_; }
  std::string text(int r) const {
    if (sd_bus_error_is_set(&error_) != 0) {
      return std::string(error_.name) + ": " + (error_.message != nullptr ? error_.message : "");
    }
    return errno_text(r);
  }

 private:
  // {} is SD_BUS_ERROR_NULL ({NULL, NULL, 0} in sd-bus.h) without its C99 compound literal,
  // which clang's -Wpedantic refuses in C++ (the fuzz preset).
  sd_bus_error error_{};
};

class BusServiceManager final : public ServiceManager {
 public:
  BusServiceManager(sd_bus* bus, std::chrono::milliseconds job_timeout) : bus_(bus), job_timeout_(job_timeout) {}
  ~BusServiceManager() override { sd_bus_flush_close_unref(bus_); }
  BusServiceManager(const BusServiceManager&) = delete;
  BusServiceManager& operator=(const BusServiceManager&) = delete;

  Status daemon_reload() override {
    BusError error;
    // The manager replies once the reload has finished.
    const int r = sd_bus_call_method(bus_, kDestination, kPath, kInterface, "Reload", error.get(), nullptr, "");
    if (r < 0) return fail(Errc::systemd_failed, "failed to reload the systemd manager configuration: " + error.text(r));
    log::get("systemd")->info("systemd manager configuration reloaded");
    return {};
  }
  Status reload_unit(std::string_view unit) override {
    return run_job("ReloadUnit", "reload", unit, JobWait::until_done);
  }
  Status restart_unit(std::string_view unit, JobWait wait) override {
    return run_job("RestartUnit", "restart", unit, wait);
  }
  Status start_unit(std::string_view unit, JobWait wait) override { return run_job("StartUnit", "start", unit, wait); }

 private:
  // Queues a job and, with JobWait::until_done, waits for its JobRemoved signal, so
  // "reloaded" means done, not queued.
  Status run_job(const char* method, std::string_view verb, std::string_view unit_view, JobWait wait) {
    const std::string unit(unit_view);
    const auto what = "failed to " + std::string(verb) + " " + unit;
    JobWaiter waiter;
    sd_bus_slot* slot = nullptr;
    // No sender filter: the signal comes from systemd's unique name, not the well-known one.
    int r = sd_bus_match_signal(bus_, &slot, nullptr, kPath, kInterface, "JobRemoved", on_job_removed, &waiter);
    if (r < 0) return fail(Errc::systemd_failed, what + ": cannot watch for job completion: " + errno_text(r));
    struct SlotGuard {
      sd_bus_slot* s;
      ~SlotGuard() { sd_bus_slot_unref(s); }
    } guard{slot};

    {
      // systemd emits job signals only to subscribed clients; "already subscribed" is fine.
      BusError ignored;
      sd_bus_call_method(bus_, kDestination, kPath, kInterface, "Subscribe", ignored.get(), nullptr, "");
    }

    BusError error;
    sd_bus_message* reply = nullptr;
    r = sd_bus_call_method(bus_, kDestination, kPath, kInterface, method, error.get(), &reply, "ss", unit.c_str(), kMode);
    if (r < 0) return fail(Errc::systemd_failed, what + ": " + error.text(r));
    const char* job = nullptr;
    r = sd_bus_message_read(reply, "o", &job);
    if (r < 0) {
      sd_bus_message_unref(reply);
      return fail(Errc::systemd_failed, what + ": unexpected reply to " + method + ": " + errno_text(r));
    }
    waiter.job = job;
    sd_bus_message_unref(reply);
    if (wait == JobWait::queued) {
      log::get("systemd")->info("{} {} queued as {}", unit, verb, waiter.job);
      return {};
    }
    for (const auto& [seen_job, result] : waiter.seen) {
      if (seen_job == waiter.job) {
        waiter.result = result;
        waiter.done = true;
      }
    }

    const auto deadline = std::chrono::steady_clock::now() + job_timeout_;
    while (!waiter.done) {
      r = sd_bus_process(bus_, nullptr);
      if (r < 0) return fail(Errc::systemd_failed, what + ": lost the bus connection: " + errno_text(r));
      if (r > 0) continue;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        return fail(Errc::systemd_failed, what + ": job " + waiter.job + " did not finish within " +
                                              std::to_string(job_timeout_.count()) + " ms (see systemctl list-jobs)");
      }
      const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
      r = sd_bus_wait(bus_, static_cast<std::uint64_t>(usec));
      if (r < 0) return fail(Errc::systemd_failed, what + ": lost the bus connection: " + errno_text(r));
    }
    if (waiter.result != "done") {
      return fail(Errc::systemd_failed, what + ": the job ended with result '" + waiter.result +
                                            "' (see journalctl -u " + unit + ")");
    }
    log::get("systemd")->info("{} {} done", unit, verb);
    return {};
  }

  sd_bus* bus_;
  std::chrono::milliseconds job_timeout_;
};

}  // namespace

Result<std::unique_ptr<ServiceManager>> connect_system_bus(std::chrono::milliseconds job_timeout) {
  sd_bus* bus = nullptr;
  const int r = sd_bus_open_system(&bus);
  if (r < 0) {
    const char* address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return fail(Errc::systemd_failed, "failed to connect to the system D-Bus" +
                                          (address != nullptr ? " at " + std::string(address) : std::string()) + ": " +
                                          errno_text(r) + " (is systemd/dbus running?)");
  }
  return std::unique_ptr<ServiceManager>(std::make_unique<BusServiceManager>(bus, job_timeout));
}

Result<std::unique_ptr<ServiceManager>> connect_system_bus() { return connect_system_bus(std::chrono::seconds(90)); }

std::optional<std::string> unit_of_pid(pid_t pid) {
  char* unit = nullptr;
  if (sd_pid_get_unit(pid, &unit) < 0 || unit == nullptr) return std::nullopt;
  std::string out(unit);
  std::free(unit);  // NOLINT(cppcoreguidelines-no-malloc): allocated by libsystemd
  return out;
}

}  // namespace kn::systemd

// The systemd service manager over D-Bus (sd-bus), for the few calls this project makes:
// daemon-reload after writing units, ReloadUnit docker.service (dockerd's ExecReload sends
// SIGHUP), and starting or restarting units the way coreos-cloudinit's `command:` does.
// https://www.freedesktop.org/software/systemd/man/org.freedesktop.systemd1.html
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace kn::systemd {

// Whether a unit call returns once systemd has queued the job or once the job has finished.
// A oneshot ordered Before=docker.service must only queue (systemctl --no-block): a unit
// ordered After=docker.service cannot start before the oneshot itself has finished, so waiting
// for it from there would hang until the job timeout.
enum class JobWait { until_done, queued };

// One instance per thread (an sd-bus connection is not thread-safe). The unit methods queue a
// job with mode "replace"; with JobWait::until_done they return once systemd reports it
// finished (JobRemoved), failing with Errc::systemd_failed when the job's result is not "done"
// or it takes too long.
class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  virtual Status daemon_reload() = 0;                                   // Manager.Reload
  virtual Status reload_unit(std::string_view unit) = 0;                // Manager.ReloadUnit, until done
  virtual Status restart_unit(std::string_view unit, JobWait wait) = 0;  // Manager.RestartUnit
  virtual Status start_unit(std::string_view unit, JobWait wait) = 0;    // Manager.StartUnit
};

// Connects to the system bus (sd_bus_open_system honours DBUS_SYSTEM_BUS_ADDRESS, which
// tests point at a private bus). Errc::systemd_failed when there is no bus.
Result<std::unique_ptr<ServiceManager>> connect_system_bus();
// The same, with how long a unit job may take before the call gives up (default 90 s,
// systemd's default start timeout).
Result<std::unique_ptr<ServiceManager>> connect_system_bus(std::chrono::milliseconds job_timeout);

// The systemd unit a process runs in (sd_pid_get_unit), empty when it runs outside one.
std::optional<std::string> unit_of_pid(pid_t pid);

}  // namespace kn::systemd

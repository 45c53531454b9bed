// sd_notify(3) for a Type=notify service: READY=1, STATUS=, WATCHDOG=1, STOPPING=1.
// Writes to $NOTIFY_SOCKET (tests bind a real datagram socket there); without it every call
// is a no-op. https://www.freedesktop.org/software/systemd/man/sd_notify.html
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kn::systemd {

class Notifier {
 public:
  Notifier();
  void ready();
  void status(std::string_view text);  // the line `systemctl status` shows
  void watchdog();
  void stopping();

  // WatchdogSec= of the unit when it is meant for this process (sd_watchdog_enabled(3));
  // send watchdog() at least every half of it.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  void send(const std::string& state);
  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  std::string last_status_;
};

}  // namespace kn::systemd

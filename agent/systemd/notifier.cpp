#include "systemd/notifier.hpp"

#include "core/logging.hpp"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>

namespace kn::systemd {

Notifier::Notifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(static_cast<std::int64_t>(usec));
  }
}

void Notifier::send(const std::string& state) {
  if (!enabled_) return;
  const int r = ::sd_notify(0, state.c_str());
  if (r < 0) log::get("systemd")->debug("sd_notify failed: error {}", -r);
}

void Notifier::ready() { send("READY=1"); }

void Notifier::status(std::string_view text) {
  // STATUS= is one line; collapse any newline so the datagram stays one assignment.
  std::string line(text);
  for (auto& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (line == last_status_) return;
  last_status_ = line;
  send("STATUS=" + line);
}

void Notifier::watchdog() { send("WATCHDOG=1"); }

void Notifier::stopping() { send("STOPPING=1"); }

}  // namespace kn::systemd

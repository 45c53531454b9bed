// Reconnect backoff of the Kontena agent: delay = rand[0,1) x min(cap, 2^attempt) seconds,
// cap 90 s, where `attempt` counts the reconnects since the last successful handshake
// *before* this one: the first reconnect waits rand x 1 s, the second rand x 2 s
// (kontena v1.5.4: agent/lib/kontena/websocket_client.rb reconnect_backoff and reconnect!,
// which computes the delay before it increments the counter). Full jitter keeps a fleet that
// lost its master from dialling in lockstep.
#pragma once

#include <algorithm>
#include <chrono>

namespace kn::master {

inline constexpr std::chrono::milliseconds kDefaultBackoffCap{90'000};

// `unit` is a uniform random number in [0, 1). Never negative, never above `cap`.
inline std::chrono::milliseconds backoff_delay(unsigned attempt, double unit,
                                               std::chrono::milliseconds cap = kDefaultBackoffCap) {
  const double cap_ms = static_cast<double>(cap.count());
  // 2^attempt seconds; past 2^17 s the cap always wins, so stop doubling (no overflow).
  const double ceiling_ms = attempt > 16 ? cap_ms : std::min(cap_ms, 1000.0 * static_cast<double>(1U << attempt));
  const double r = std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(r * ceiling_ms));
}

}  // namespace kn::master

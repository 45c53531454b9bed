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

// A master restart drops every node of the grid at the same moment, and rand x 1 s would bring
// them all back within one second. So the first reconnect after a node was online goes in its
// own second of a kReconnectSlots-second window: slot = node_number mod kReconnectSlots, plus
// `unit` of a second. The master gives each node of a grid the lowest free number in 1..254
// (kontena v1.5.4: server/app/models/grid.rb create_node!), so numbers are dense and a fleet
// comes back spread evenly (about 1/15 of it a second), while a node of a small grid still
// waits only a second or two. Later attempts back off as above. Never above `cap`.
inline constexpr long kReconnectSlots = 15;

inline std::chrono::milliseconds reconnect_slot_delay(long node_number, double unit,
                                                      std::chrono::milliseconds cap = kDefaultBackoffCap) {
  const long slot = ((node_number % kReconnectSlots) + kReconnectSlots) % kReconnectSlots;
  const auto ms = static_cast<long long>((static_cast<double>(slot) + std::clamp(unit, 0.0, 1.0)) * 1000.0);
  return std::min(std::chrono::milliseconds(ms), cap);
}

}  // namespace kn::master

// Time stamps as Kontena writes them in the Kontena-Connected-At header and as the
// simulator reports them in node JSON: "2018-08-10 12:34:56.123456789Z" (UTC, space
// separator, nine fraction digits, "Z"). docs/protocol.md section 2.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kn::master_sim {

using SysTime = std::chrono::sys_time<std::chrono::nanoseconds>;

inline SysTime now() { return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now()); }

std::string format_kontena_time(SysTime t);

// Ruby's Time#to_s of a UTC time, as the master serializes times into RPC messages
// (node_info created_at, deploy_rev, a pod's updated_at): "2018-08-10 12:34:56 UTC".
std::string format_ruby_time(SysTime t);

// Accepts what the agents send plus the near variants Ruby's Time.parse takes: 'T' instead
// of the space, 0-9 fraction digits, and "Z", " UTC", "+HH:MM" or no zone (read as UTC).
// Anything else is nullopt, which the master treats like a missing header.
std::optional<SysTime> parse_kontena_time(std::string_view text);

}  // namespace kn::master_sim

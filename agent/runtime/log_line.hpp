// One line of a service container's output as the master stores it: an entry of the
// /containers/log_batch notification (kontena v1.5.4: server/app/services/rpc/container_handler.rb,
// log_batch). Shared by the log streamer and the lifecycle hooks, whose output goes the same way.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace kn::runtime {

struct LogLine {
  std::string id;          // container id
  std::string service;     // service name, without the stack (io.kontena.service.name)
  std::string stack;       // io.kontena.stack.name ("null" for the null stack)
  int instance = 0;        // io.kontena.service.instance_number
  std::string time;        // RFC 3339 with nanoseconds, UTC
  std::string type;        // "stdout" | "stderr"
  std::string data;        // the line, without its newline
  nlohmann::json to_json() const;
};

inline constexpr const char* kLogBatch = "/containers/log_batch";
inline constexpr std::size_t kMaxLogBatch = 10;  // lines per notification, as the Ruby agent sends

// "2018-08-10T12:34:56.123456789Z": nine fraction digits, always (the master sorts by it).
std::string rfc3339_nanos(std::chrono::system_clock::time_point t);

}  // namespace kn::runtime

#include "runtime/log_line.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace kn::runtime {

nlohmann::json LogLine::to_json() const {
  return {{"id", id}, {"service", service}, {"stack", stack}, {"instance", instance},
          {"time", time}, {"type", type},       {"data", data}};
}

std::string rfc3339_nanos(std::chrono::system_clock::time_point t) {
  const auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  auto secs = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto nanos = (since_epoch - secs).count();
  const std::chrono::sys_seconds whole{secs};
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:09d}Z", whole, nanos);
}

}  // namespace kn::runtime

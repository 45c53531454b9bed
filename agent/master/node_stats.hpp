// The /nodes/stats document of the Kontena agent (kontena v1.5.4: agent/lib/kontena/workers/node_stats_worker.rb,
// agent/lib/kontena/helpers/stats_helper.rb; docs/protocol.md): memory, load, filesystem,
// cpu, network and time, read from /proc and statvfs(3). Rates (cpu %, bytes per second)
// are deltas against the previous sample, so the collector keeps state between calls.
// Blocking file reads: run it off the Asio loop.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kn::master {

struct CpuSample {
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  unsigned cores = 0;
  std::uint64_t total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
};

struct InterfaceCounters {
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
};

// Parsers of the /proc formats (proc(5)); unknown lines are skipped.
std::map<std::string, std::uint64_t> parse_meminfo(std::string_view text);  // values in bytes
std::optional<std::array<double, 3>> parse_loadavg(std::string_view text);
std::optional<CpuSample> parse_cpu(std::string_view text);                  // /proc/stat
std::map<std::string, InterfaceCounters> parse_net_dev(std::string_view text);

// Interfaces counted as "internal" (the overlay and container bridges) rather than
// "external"; loopback and veth pairs are in neither (their traffic is counted on the bridge).
bool is_internal_interface(std::string_view name);

struct StatsOptions {
  std::filesystem::path proc = "/proc";
  std::vector<std::filesystem::path> filesystems{"/"};  // statvfs targets (Docker's root dir first)
};

class StatsCollector {
 public:
  explicit StatsCollector(StatsOptions options = {}) : options_(std::move(options)) {}
  nlohmann::json collect(std::chrono::system_clock::time_point wall = std::chrono::system_clock::now(),
                         std::chrono::steady_clock::time_point mono = std::chrono::steady_clock::now());
  void set_filesystems(std::vector<std::filesystem::path> paths) { options_.filesystems = std::move(paths); }

 private:
  StatsOptions options_;
  std::optional<CpuSample> last_cpu_;
  std::map<std::string, InterfaceCounters> last_net_;
  std::optional<std::chrono::steady_clock::time_point> last_time_;
};

}  // namespace kn::master

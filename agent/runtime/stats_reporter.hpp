// Container stats for the master, in the shape a Kontena 1.5.4 agent sends them
// (kontena v1.5.4: agent/lib/kontena/workers/stats_worker.rb, which reads cAdvisor; the master
// stores them as ContainerStat in server/app/services/rpc/container_handler.rb and shows them
// with `kontena service stats`). This node has no cAdvisor: the numbers come from the Docker
// Engine's one-shot stats (https://docs.docker.com/engine/api/v1.41/#operation/ContainerStats).
// Every `interval`, while the master link is up, each running service container is sampled
// and reported as the notification /containers/stat [{id, spec, cpu, memory, filesystem,
// diskio, network, time}].
#pragma once

#include "runtime/runtime_service.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace kn::runtime {

// One /containers/stat entry from a Docker stats document (`stats`), the container's inspect
// document (the spec: limits, labels) and the previous stats document of the same container
// (network rates; null for the first). `now` is the report time.
//   cpu.usage      ns of CPU time in the sample window (cpu_stats - precpu_stats);
//   cpu.usage_pct  that over the host's CPU time in the window, times the online CPUs, in
//                  percent of one CPU (as `docker stats` shows it), 2 decimals;
//   memory.usage   memory_stats.usage; working_set = usage minus inactive file pages
//                  (cgroup v1 stats.total_inactive_file, v2 stats.inactive_file), never negative;
//   network        internal = the overlay interface (ethwe; none on this node), external = eth0:
//                  {interfaces, rx_bytes, tx_bytes, rx_bytes_per_second, tx_bytes_per_second};
//   diskio         {io_service_bytes, io_serviced}: [{major, minor, stats: {Read, Write, ...}}];
//   filesystem     [] (the engine's stats have no per-container file system usage).
nlohmann::json container_stat(const std::string& container_id, const nlohmann::json& stats,
                              const nlohmann::json& inspect, const nlohmann::json& previous,
                              std::chrono::system_clock::time_point now);

struct StatsReporterOptions {
  std::chrono::milliseconds interval{60000};  // stats_worker.rb: every 60 s
};

class StatsReporter : public RuntimeService {
 public:
  static constexpr const char* kStat = "/containers/stat";

  explicit StatsReporter(RuntimeContext context, StatsReporterOptions options = {});
  ~StatsReporter() override;
  StatsReporter(const StatsReporter&) = delete;
  StatsReporter& operator=(const StatsReporter&) = delete;

  void on_container_running(const ServiceContainer& container) override;
  void on_container_stopped(const std::string& container_id) override;
  void on_online() override;
  void on_offline() override;
  void stop() override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kn::runtime

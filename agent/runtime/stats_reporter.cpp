#include "runtime/stats_reporter.hpp"

#include "core/logging.hpp"
#include "docker/container_api.hpp"
#include "runtime/reconciler.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <atomic>
#include <cmath>
#include <ctime>
#include <optional>
#include <vector>

namespace kn::runtime {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("stats"); }

const json& at(const json& doc, const char* key) {
  static const json null_value;
  if (!doc.is_object()) return null_value;
  auto it = doc.find(key);
  return it != doc.end() ? *it : null_value;
}

std::uint64_t number_at(const json& doc, const char* key) {
  const json& v = at(doc, key);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() > 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  return 0;
}

std::uint64_t minus(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

double round2(double v) { return std::round(v * 100.0) / 100.0; }

// Ruby's Time#to_s in UTC, as the Kontena agent stamps its stats: "2018-08-10 12:34:56 UTC".
std::string ruby_time(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

json cpu_of(const json& stats) {
  const json& now = at(stats, "cpu_stats");
  const json& before = at(stats, "precpu_stats");
  const auto used = minus(number_at(at(now, "cpu_usage"), "total_usage"), number_at(at(before, "cpu_usage"), "total_usage"));
  const auto system = minus(number_at(now, "system_cpu_usage"), number_at(before, "system_cpu_usage"));
  auto online = number_at(now, "online_cpus");
  if (online == 0 && at(at(now, "cpu_usage"), "percpu_usage").is_array()) {
    online = at(at(now, "cpu_usage"), "percpu_usage").size();  // engines before API 1.27
  }
  if (online == 0) online = 1;
  const double pct = system > 0 ? static_cast<double>(used) / static_cast<double>(system) *
                                      static_cast<double>(online) * 100.0
                                : 0.0;
  return json{{"usage", used}, {"usage_pct", round2(pct)}};
}

json memory_of(const json& stats) {
  const json& memory = at(stats, "memory_stats");
  const auto usage = number_at(memory, "usage");
  const json& detail = at(memory, "stats");
  // cgroup v1 reports the hierarchy's total_inactive_file; v2 has only inactive_file.
  const auto inactive = at(detail, "total_inactive_file").is_number() ? number_at(detail, "total_inactive_file")
                                                                      : number_at(detail, "inactive_file");
  return json{{"usage", usage}, {"working_set", minus(usage, inactive)}};
}

std::optional<std::chrono::system_clock::time_point> read_time(const json& stats) {
  const json& read = at(stats, "read");
  if (!read.is_string()) return std::nullopt;
  return parse_docker_time(read.get<std::string>());
}

// {interfaces, rx_bytes, tx_bytes, *_per_second} of the interfaces named `name`.
json traffic(const json& stats, const json& previous, const std::string& name) {
  json out{{"interfaces", json::array()},
           {"rx_bytes", 0},
           {"rx_bytes_per_second", 0},
           {"tx_bytes", 0},
           {"tx_bytes_per_second", 0}};
  const json& now = at(at(stats, "networks"), name.c_str());
  if (!now.is_object()) return out;
  const auto rx = number_at(now, "rx_bytes"), tx = number_at(now, "tx_bytes");
  out["interfaces"].push_back(name);
  out["rx_bytes"] = rx;
  out["tx_bytes"] = tx;
  const json& before = at(at(previous, "networks"), name.c_str());
  const auto t1 = read_time(stats), t0 = read_time(previous);
  if (before.is_object() && t1 && t0 && *t1 > *t0) {
    const double seconds = std::chrono::duration<double>(*t1 - *t0).count();
    out["rx_bytes_per_second"] = round2(static_cast<double>(minus(rx, number_at(before, "rx_bytes"))) / seconds);
    out["tx_bytes_per_second"] = round2(static_cast<double>(minus(tx, number_at(before, "tx_bytes"))) / seconds);
  }
  return out;
}

// blkio_stats.<key> ([{major, minor, op, value}]) grouped per device, as cAdvisor lists them.
json per_device(const json& entries) {
  json out = json::array();
  if (!entries.is_array()) return out;
  for (const auto& e : entries) {
    if (!e.is_object() || !at(e, "op").is_string()) continue;
    const auto major = number_at(e, "major"), minor = number_at(e, "minor");
    auto op = at(e, "op").get<std::string>();
    if (!op.empty()) op[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(op[0])));  // v2: "read"
    json* device = nullptr;
    for (auto& d : out) {
      if (d["major"] == major && d["minor"] == minor) device = &d;
    }
    if (device == nullptr) {
      out.push_back(json{{"major", major}, {"minor", minor}, {"stats", json::object()}});
      device = &out.back();
    }
    (*device)["stats"][op] = number_at(e, "value");
  }
  return out;
}

// The cAdvisor ContainerSpec fields the master reads (`kontena service stats` shows
// spec.cpu.limit, spec.cpu.mask and spec.memory.limit).
json spec_of(const json& inspect, const json& stats) {
  const json& host = at(inspect, "HostConfig");
  const json& config = at(inspect, "Config");
  auto shares = number_at(host, "CpuShares");
  auto online = number_at(at(stats, "cpu_stats"), "online_cpus");
  if (online == 0) online = 1;
  std::string mask = at(host, "CpusetCpus").is_string() ? at(host, "CpusetCpus").get<std::string>() : std::string();
  if (mask.empty()) mask = online == 1 ? "0" : fmt::format("0-{}", online - 1);
  auto limit = number_at(host, "Memory");
  if (limit == 0) limit = number_at(at(stats, "memory_stats"), "limit");  // no limit: the engine shows the host's
  return json{{"creation_time", at(inspect, "Created").is_string() ? at(inspect, "Created") : json(nullptr)},
              {"labels", at(config, "Labels").is_object() ? at(config, "Labels") : json::object()},
              {"image", at(config, "Image").is_string() ? at(config, "Image") : json(nullptr)},
              {"has_cpu", true},
              {"cpu", {{"limit", shares == 0 ? 1024 : shares}, {"max_limit", 0}, {"mask", mask}}},
              {"has_memory", true},
              {"memory", {{"limit", limit}, {"swap_limit", number_at(host, "MemorySwap")}}},
              {"has_network", true},
              {"has_filesystem", false},
              {"has_diskio", true}};
}

}  // namespace

json container_stat(const std::string& container_id, const json& stats, const json& inspect, const json& previous,
                    std::chrono::system_clock::time_point now) {
  const json& blkio = at(stats, "blkio_stats");
  return json{{"id", container_id},
              {"spec", spec_of(inspect, stats)},
              {"cpu", cpu_of(stats)},
              {"memory", memory_of(stats)},
              {"filesystem", json::array()},
              {"diskio",
               {{"io_service_bytes", per_device(at(blkio, "io_service_bytes_recursive"))},
                {"io_serviced", per_device(at(blkio, "io_serviced_recursive"))}}},
              {"network", {{"internal", traffic(stats, previous, "ethwe")}, {"external", traffic(stats, previous, "eth0")}}},
              {"time", ruby_time(now)}};
}

// The sampler's state: its own engine connection and the previous sample of each container.
// Only the one pool thread touches it.
struct Sampler {
  std::string docker_host;
  std::optional<docker::ContainerApi> api;
  std::map<std::string, json> previous;
};

struct StatsReporter::Impl : std::enable_shared_from_this<Impl> {
  Impl(RuntimeContext c, StatsReporterOptions o)
      : context(std::move(c)), options(o), timer(context.loop), sampler(std::make_shared<Sampler>()) {
    sampler->docker_host = context.docker_host;
  }

  void arm() {
    if (armed || stopped) return;
    armed = true;
    timer.expires_after(options.interval);
    timer.async_wait([w = weak_from_this()](boost::system::error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped) return;
      self->armed = false;
      if (!self->online) return;  // on_online arms it again
      self->sample();
      self->arm();
    });
  }

  // Loop thread: hand the running containers to the pool thread, one round at a time.
  void sample() {
    if (round_under_way || containers.empty()) return;
    round_under_way = true;
    asio::post(pool, [w = weak_from_this(), loop = context.loop, sampler = sampler, list = containers] {
      if (!sampler->api) {
        auto made = docker::ContainerApi::connect(sampler->docker_host);
        if (!made) logger()->warn("{}", made.error().message);
        else sampler->api.emplace(std::move(*made));
      }
      std::vector<json> reports;
      std::map<std::string, json> seen;
      for (const auto& [id, inspect] : list) {
        if (!sampler->api) break;
        auto stats = sampler->api->stats(id);
        if (!stats) {
          if (stats.error().is(Errc::docker_unavailable)) sampler->api.reset();
          if (!stats.error().is(Errc::docker_not_found)) logger()->warn("{}", stats.error().message);
          continue;
        }
        auto previous = sampler->previous.find(id);
        reports.push_back(container_stat(id, *stats, inspect,
                                         previous != sampler->previous.end() ? previous->second : json(),
                                         std::chrono::system_clock::now()));
        seen[id] = std::move(*stats);
      }
      sampler->previous = std::move(seen);
      asio::post(loop, [w, reports = std::move(reports)] {
        auto self = w.lock();
        if (!self || self->stopped) return;
        self->round_under_way = false;
        for (const auto& r : reports) {
          // A container that stopped during the round is not reported.
          if (self->online && self->containers.contains(r["id"].get<std::string>()) && self->context.master) {
            self->context.master->notify(kStat, json::array({r}));
          }
        }
      });
    });
  }

  RuntimeContext context;
  StatsReporterOptions options;
  asio::steady_timer timer;
  asio::thread_pool pool{1};
  std::shared_ptr<Sampler> sampler;
  std::map<std::string, json> containers;  // running service containers: id -> inspect
  bool online = false, armed = false, round_under_way = false, stopped = false;
};

StatsReporter::StatsReporter(RuntimeContext context, StatsReporterOptions options)
    : impl_(std::make_shared<Impl>(std::move(context), options)) {}

StatsReporter::~StatsReporter() { stop(); }

void StatsReporter::on_container_running(const ServiceContainer& container) {
  impl_->containers[container.id] = container.inspect;
}

void StatsReporter::on_container_stopped(const std::string& container_id) { impl_->containers.erase(container_id); }

void StatsReporter::on_online() {
  impl_->online = true;
  impl_->arm();
}

void StatsReporter::on_offline() { impl_->online = false; }

void StatsReporter::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->timer.cancel();
  impl_->pool.stop();
  impl_->pool.join();
}

}  // namespace kn::runtime

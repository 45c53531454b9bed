#include "master/node_stats.hpp"

#include "core/atomic_file.hpp"

#include <sys/statvfs.h>

#include <array>
#include <charconv>
#include <ctime>
#include <sstream>

namespace kn::master {
namespace {

std::string slurp(const std::filesystem::path& p) {
  auto text = read_file(p);
  return text && *text ? **text : std::string();
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const auto start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::uint64_t to_u64(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

double pct(std::uint64_t part, std::uint64_t total, unsigned cores) {
  if (total == 0) return 0.0;
  return 100.0 * static_cast<double>(part) / static_cast<double>(total) * static_cast<double>(cores);
}

}  // namespace

std::map<std::string, std::uint64_t> parse_meminfo(std::string_view text) {
  std::map<std::string, std::uint64_t> out;
  for_each_line(text, [&](std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const auto fields = split_ws(line.substr(colon + 1));
    if (fields.empty()) return;
    std::uint64_t v = to_u64(fields[0]);
    if (fields.size() > 1 && fields[1] == "kB") v *= 1024;
    out.emplace(std::string(line.substr(0, colon)), v);
  });
  return out;
}

std::optional<std::array<double, 3>> parse_loadavg(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::array<double, 3> v{};
  if (!(in >> v[0] >> v[1] >> v[2])) return std::nullopt;
  return v;
}

std::optional<CpuSample> parse_cpu(std::string_view text) {
  std::optional<CpuSample> total;
  unsigned cores = 0;
  for_each_line(text, [&](std::string_view line) {
    if (!line.starts_with("cpu")) return;
    const auto f = split_ws(line);
    if (f.empty()) return;
    if (f[0] != "cpu") {
      ++cores;
      return;
    }
    if (f.size() < 5) return;
    CpuSample s;
    auto at = [&](std::size_t i) { return i < f.size() ? to_u64(f[i]) : 0; };
    s.user = at(1);
    s.nice = at(2);
    s.system = at(3);
    s.idle = at(4);
    s.iowait = at(5);
    s.irq = at(6);
    s.softirq = at(7);
    s.steal = at(8);
    total = s;
  });
  if (total) total->cores = cores == 0 ? 1 : cores;
  return total;
}

std::map<std::string, InterfaceCounters> parse_net_dev(std::string_view text) {
  std::map<std::string, InterfaceCounters> out;
  for_each_line(text, [&](std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return;  // the two header lines
    auto name = split_ws(line.substr(0, colon));
    const auto f = split_ws(line.substr(colon + 1));
    if (name.size() != 1 || f.size() < 9) return;
    // Receive: bytes packets errs drop fifo frame compressed multicast; Transmit: bytes ...
    out.emplace(std::string(name[0]), InterfaceCounters{to_u64(f[0]), to_u64(f[8])});
  });
  return out;
}

bool is_internal_interface(std::string_view name) {
  return name == "docker0" || name == "weave" || name.starts_with("vethwe") || name.starts_with("br-");
}

nlohmann::json StatsCollector::collect(std::chrono::system_clock::time_point wall,
                                       std::chrono::steady_clock::time_point mono) {
  using nlohmann::json;
  json stats = json::object();

  const auto mem = parse_meminfo(slurp(options_.proc / "meminfo"));
  auto m = [&](const char* key) -> std::uint64_t {
    auto it = mem.find(key);
    return it == mem.end() ? 0 : it->second;
  };
  const auto total = m("MemTotal"), free = m("MemFree"), buffers = m("Buffers"), cached = m("Cached");
  // `used` counts buffers and cache as used: the CLI subtracts them itself when it shows the
  // node's memory (kontena v1.5.4: agent/lib/kontena/workers/node_stats_worker.rb
  // calculate_memory sends total - free).
  stats["memory"] = {{"total", total},          {"free", free},       {"active", m("Active")},
                     {"inactive", m("Inactive")}, {"cached", cached}, {"buffers", buffers},
                     {"used", total > free ? total - free : 0}};
  // No container accounting in this agent: the master only sums it.
  stats["usage"] = {{"container_seconds", 0}};

  const auto load = parse_loadavg(slurp(options_.proc / "loadavg")).value_or(std::array<double, 3>{});
  stats["load"] = {{"1m", load[0]}, {"5m", load[1]}, {"15m", load[2]}};

  json filesystems = json::array();
  for (const auto& path : options_.filesystems) {
    struct statvfs vfs {};
    if (::statvfs(path.c_str(), &vfs) != 0) continue;
    const auto frsize = static_cast<std::uint64_t>(vfs.f_frsize);
    const auto fs_total = static_cast<std::uint64_t>(vfs.f_blocks) * frsize;
    const auto fs_free = static_cast<std::uint64_t>(vfs.f_bfree) * frsize;
    filesystems.push_back({{"name", path.string()},
                           {"free", fs_free},
                           {"available", static_cast<std::uint64_t>(vfs.f_bavail) * frsize},
                           {"used", fs_total - fs_free},
                           {"total", fs_total}});
  }
  stats["filesystem"] = filesystems;

  const auto cpu = parse_cpu(slurp(options_.proc / "stat"));
  if (cpu) {
    CpuSample d = *cpu;
    if (last_cpu_ && cpu->total() >= last_cpu_->total()) {
      d.user -= last_cpu_->user;
      d.nice -= last_cpu_->nice;
      d.system -= last_cpu_->system;
      d.idle -= last_cpu_->idle;
      d.iowait -= last_cpu_->iowait;
      d.irq -= last_cpu_->irq;
      d.softirq -= last_cpu_->softirq;
      d.steal -= last_cpu_->steal;
    }
    const auto t = d.total();
    stats["cpu"] = {{"num_cores", cpu->cores},
                    {"system", pct(d.system + d.irq + d.softirq, t, cpu->cores)},
                    {"user", pct(d.user, t, cpu->cores)},
                    {"nice", pct(d.nice, t, cpu->cores)},
                    {"idle", pct(d.idle + d.iowait, t, cpu->cores)}};
    last_cpu_ = cpu;
  }

  const auto net = parse_net_dev(slurp(options_.proc / "net/dev"));
  const double elapsed =
      last_time_ ? std::chrono::duration<double>(mono - *last_time_).count() : 0.0;
  json groups = {{"internal", json::object()}, {"external", json::object()}};
  for (auto& [group, internal] : {std::pair<const char*, bool>{"internal", true}, {"external", false}}) {
    json names = json::array();
    std::uint64_t rx = 0, tx = 0, rx_prev = 0, tx_prev = 0;
    for (const auto& [name, c] : net) {
      if (name == "lo" || (name.starts_with("veth") && !name.starts_with("vethwe"))) continue;
      if (is_internal_interface(name) != internal) continue;
      names.push_back(name);
      rx += c.rx_bytes;
      tx += c.tx_bytes;
      auto prev = last_net_.find(name);
      const auto& p = prev == last_net_.end() ? c : prev->second;
      rx_prev += p.rx_bytes;
      tx_prev += p.tx_bytes;
    }
    auto rate = [&](std::uint64_t now_v, std::uint64_t before) {
      return elapsed > 0 && now_v >= before ? static_cast<double>(now_v - before) / elapsed : 0.0;
    };
    groups[group] = {{"interfaces", names},      {"rx_bytes", rx}, {"rx_bytes_per_second", rate(rx, rx_prev)},
                     {"tx_bytes", tx},           {"tx_bytes_per_second", rate(tx, tx_prev)}};
  }
  stats["network"] = groups;
  last_net_ = net;
  last_time_ = mono;

  const std::time_t tt = std::chrono::system_clock::to_time_t(wall);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  stats["time"] = std::string(buf, n);
  return stats;
}

}  // namespace kn::master

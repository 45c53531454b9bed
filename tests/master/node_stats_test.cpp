// The /nodes/stats and /nodes/update documents: parsers against /proc text as the kernel
// writes it, the collector against this machine's real /proc.
#include "master/node_info.hpp"
#include "master/node_stats.hpp"
#include "support/catch_result.hpp"
#include "support/process.hpp"

#include <fstream>

using namespace kn::master;

namespace {
constexpr std::string_view kMeminfo =
    "MemTotal:       16384000 kB\nMemFree:         8192000 kB\nMemAvailable:   12000000 kB\n"
    "Buffers:          100000 kB\nCached:          2000000 kB\nActive:          4000000 kB\n"
    "Inactive:        3000000 kB\nHugePages_Total:       0\n";
constexpr std::string_view kStat1 =
    "cpu  100 10 50 800 20 5 5 0 0 0\ncpu0 50 5 25 400 10 2 3 0 0 0\ncpu1 50 5 25 400 10 3 2 0 0 0\nintr 1 2 3\n";
constexpr std::string_view kStat2 =
    "cpu  200 10 100 1600 20 5 5 0 0 0\ncpu0 100 5 50 800 10 2 3 0 0 0\ncpu1 100 5 50 800 10 3 2 0 0 0\n";
constexpr std::string_view kNetDev1 =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
    "    lo:  500 5 0 0 0 0 0 0  500 5 0 0 0 0 0 0\n"
    "  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
    "docker0: 300 3 0 0 0 0 0 0 400 4 0 0 0 0 0 0\n"
    "veth1a2b: 7 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n";
constexpr std::string_view kNetDev2 =
    "Inter-|   Receive\n face |bytes\n"
    "    lo:  900 5 0 0 0 0 0 0  900 5 0 0 0 0 0 0\n"
    "  eth0: 3000 10 0 0 0 0 0 0 6000 20 0 0 0 0 0 0\n"
    "docker0: 300 3 0 0 0 0 0 0 400 4 0 0 0 0 0 0\n";

void write(const std::filesystem::path& p, std::string_view text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}
}  // namespace

TEST_CASE("proc parsers: meminfo in bytes - loadavg - cpu with core count - net/dev counters") {
  const auto mem = parse_meminfo(kMeminfo);
  CHECK(mem.at("MemTotal") == 16384000ULL * 1024);
  CHECK(mem.at("HugePages_Total") == 0);
  const auto load = parse_loadavg("0.52 0.58 0.59 2/1130 12345\n");
  REQUIRE(load.has_value());
  CHECK((*load)[0] == Approx(0.52));
  CHECK((*load)[2] == Approx(0.59));
  CHECK_FALSE(parse_loadavg("garbage").has_value());
  const auto cpu = parse_cpu(kStat1);
  REQUIRE(cpu.has_value());
  CHECK(cpu->cores == 2);
  CHECK(cpu->user == 100);
  CHECK(cpu->total() == 990);
  const auto net = parse_net_dev(kNetDev1);
  CHECK(net.at("eth0").rx_bytes == 1000);
  CHECK(net.at("eth0").tx_bytes == 2000);
  CHECK(net.size() == 4);
  CHECK(is_internal_interface("docker0"));
  CHECK(is_internal_interface("weave"));
  CHECK_FALSE(is_internal_interface("eth0"));
}

TEST_CASE("stats collector: Kontena's keys - rates from the previous sample") {
  kn::test::TempDir dir;
  const auto proc = dir.path() / "proc";
  write(proc / "meminfo", kMeminfo);
  write(proc / "loadavg", "1.00 0.50 0.25 1/100 42\n");
  write(proc / "stat", kStat1);
  write(proc / "net/dev", kNetDev1);
  StatsCollector collector(StatsOptions{proc, {dir.path()}});
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  auto s = collector.collect(std::chrono::system_clock::from_time_t(1533902400), t0);  // 2018-08-10 12:00:00
  CHECK(s["time"] == "2018-08-10 12:00:00 UTC");
  CHECK(s["memory"]["total"] == 16384000ULL * 1024);
  // Kontena's used is total - free; buffers and cache count as used (the CLI subtracts them).
  CHECK(s["memory"]["used"] == (16384000ULL - 8192000) * 1024);
  CHECK(s["memory"]["buffers"] == 100000ULL * 1024);
  CHECK(s["memory"]["cached"] == 2000000ULL * 1024);
  for (const char* k : {"free", "active", "inactive", "cached", "buffers"}) CHECK(s["memory"].contains(k));
  CHECK(s["load"]["1m"] == 1.0);
  CHECK(s["load"]["15m"] == 0.25);
  REQUIRE(s["filesystem"].size() == 1);
  CHECK(s["filesystem"][0]["name"] == dir.path().string());
  CHECK(s["filesystem"][0]["total"].get<std::uint64_t>() > 0);
  CHECK(s["cpu"]["num_cores"] == 2);
  CHECK(s["network"]["external"]["interfaces"] == nlohmann::json::array({"eth0"}));
  CHECK(s["network"]["internal"]["interfaces"] == nlohmann::json::array({"docker0"}));
  CHECK(s["usage"]["container_seconds"] == 0);

  write(proc / "stat", kStat2);
  write(proc / "net/dev", kNetDev2);
  s = collector.collect(std::chrono::system_clock::now(), t0 + std::chrono::seconds(2));
  // Delta: user 100, system 50, idle 800 of 950 ticks, summed over 2 cores.
  CHECK(s["cpu"]["user"].get<double>() == Approx(100.0 * 100 / 950 * 2));
  CHECK(s["cpu"]["idle"].get<double>() == Approx(100.0 * 800 / 950 * 2));
  CHECK(s["network"]["external"]["rx_bytes"] == 3000);
  CHECK(s["network"]["external"]["rx_bytes_per_second"].get<double>() == Approx(1000.0));
  CHECK(s["network"]["external"]["tx_bytes_per_second"].get<double>() == Approx(2000.0));
}

TEST_CASE("stats collector on this machine's /proc") {
  StatsCollector collector;
  const auto s = collector.collect();
  CHECK(s["memory"]["total"].get<std::uint64_t>() > 0);
  CHECK(s["cpu"]["num_cores"].get<unsigned>() >= 1);
  CHECK(s["filesystem"].size() == 1);
}

TEST_CASE("node info: Docker's /info with the agent's keys - host facts without Docker") {
  NodeInfoInputs in;
  in.docker_info = nlohmann::json{{"ID", "X"},
                                  {"Name", "docker-host"},
                                  {"ServerVersion", "20.10.24"},
                                  {"Labels", {"az=b", "team=web"}},
                                  {"Plugins", {{"Volume", {"local"}}, {"Network", {"bridge", "host"}}}}};
  in.name = "node-1";
  in.public_ip = "203.0.113.7";
  in.private_ip = "10.0.0.7";
  in.agent_version = "1.5.4";
  in.labels = {"az=a", "region=eu-central-1", "ephemeral=true"};
  auto info = build_node_info(in);
  CHECK(info["ServerVersion"] == "20.10.24");
  CHECK(info["Name"] == "node-1");
  CHECK(info["PublicIp"] == "203.0.113.7");
  CHECK(info["PrivateIp"] == "10.0.0.7");
  CHECK(info["AgentVersion"] == "1.5.4");
  CHECK(info["Labels"] == nlohmann::json::array({"team=web", "az=a", "region=eu-central-1", "ephemeral=true"}));
  CHECK(info["Drivers"]["Volume"] == nlohmann::json::array({{{"name", "local"}, {"version", nullptr}}}));
  CHECK(info["Drivers"]["Network"].size() == 2);

  in.docker_info.reset();
  in.public_ip.reset();
  info = build_node_info(in);
  CHECK(info["PublicIp"].is_null());
  CHECK(info["NCPU"].get<unsigned>() >= 1);
  CHECK(info["MemTotal"].get<std::uint64_t>() > 0);
  CHECK(info.contains("KernelVersion"));
  CHECK(info["Labels"] == nlohmann::json::array({"az=a", "region=eu-central-1", "ephemeral=true"}));
  CHECK(info["Drivers"]["Volume"].empty());
}

// Health checks and container stats without Docker: the health check labels, the probe target
// of a container, the probes against loopback listeners of this test, and the /containers/stat
// numbers from Docker stats documents (shaped as dockerd 20.10 writes them for cgroup v1 and v2).
#include "http/curl_transport.hpp"
#include "runtime/health_checker.hpp"
#include "runtime/port_probe.hpp"
#include "runtime/stats_reporter.hpp"
#include "support/catch_result.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <thread>

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using nlohmann::json;
namespace asio = boost::asio;

namespace {

json labels(std::initializer_list<std::pair<const char*, const char*>> extra) {
  json l = {{"io.kontena.service.id", "svc1"}, {"io.kontena.container.type", "container"}};
  for (const auto& [k, v] : extra) l[k] = v;
  return l;
}

// One loopback HTTP listener answering every request with `response` (raw HTTP/1.1 text).
struct CannedHttp {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::string response;
  std::thread thread;
  explicit CannedHttp(std::string r) : response(std::move(r)) {
    accept();
    thread = std::thread([this] { io.run(); });
  }
  ~CannedHttp() {
    io.stop();
    thread.join();
  }
  int port() const { return acceptor.local_endpoint().port(); }
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      auto socket = std::make_shared<asio::ip::tcp::socket>(std::move(s));
      auto buffer = std::make_shared<asio::streambuf>();
      asio::async_read_until(*socket, *buffer, "\r\n\r\n", [this, socket, buffer](boost::system::error_code, std::size_t) {
        asio::async_write(*socket, asio::buffer(response), [socket](boost::system::error_code, std::size_t) {});
      });
      accept();
    });
  }
};

std::string answer(int status, const std::string& extra_headers = {}, const std::string& body = "ok") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
}

// A port on 127.0.0.1 nothing listens on (bound, then closed).
int closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

}  // namespace

TEST_CASE("health check labels: Kontena's defaults, http and tcp, and bad values named", "[health]") {
  SECTION("no protocol label: not checked") {
    auto spec = parse_health_check(labels({}));
    REQUIRE(spec);
    CHECK_FALSE(spec->has_value());
  }
  SECTION("only protocol and port: the master's defaults (interval 60, timeout 10, initial_delay 10, uri /)") {
    auto spec = parse_health_check(labels({{health_label::protocol, "http"}, {health_label::port, "8080"}}));
    REQUIRE(spec);
    REQUIRE(spec->has_value());
    const auto& s = **spec;
    CHECK(s.protocol == HealthCheckSpec::Protocol::http);
    CHECK(s.port == 8080);
    CHECK(s.uri == "/");
    CHECK(s.interval == 60s);
    CHECK(s.timeout == 10s);
    CHECK(s.initial_delay == 10s);
  }
  SECTION("every label") {
    auto spec = parse_health_check(labels({{health_label::protocol, "tcp"},
                                           {health_label::port, "5432"},
                                           {health_label::uri, "/health"},
                                           {health_label::interval, "5"},
                                           {health_label::timeout, "2"},
                                           {health_label::initial_delay, "0"}}));
    REQUIRE(spec);
    REQUIRE(spec->has_value());
    CHECK((*spec)->protocol == HealthCheckSpec::Protocol::tcp);
    CHECK((*spec)->uri == "/health");
    CHECK((*spec)->interval == 5s);
    CHECK((*spec)->timeout == 2s);
    CHECK((*spec)->initial_delay == 0s);
  }
  SECTION("bad values fail with the label in the message") {
    auto bad_protocol = parse_health_check(labels({{health_label::protocol, "udp"}, {health_label::port, "53"}}));
    REQUIRE_FALSE(bad_protocol);
    CHECK(bad_protocol.error().is(Errc::pod_invalid));
    CHECK_THAT(bad_protocol.error().message, Catch::Contains("io.kontena.health_check.protocol"));
    auto no_port = parse_health_check(labels({{health_label::protocol, "http"}}));
    REQUIRE_FALSE(no_port);
    CHECK_THAT(no_port.error().message, Catch::Contains("io.kontena.health_check.port"));
    auto big_port = parse_health_check(labels({{health_label::protocol, "tcp"}, {health_label::port, "70000"}}));
    REQUIRE_FALSE(big_port);
    auto zero_interval = parse_health_check(
        labels({{health_label::protocol, "tcp"}, {health_label::port, "80"}, {health_label::interval, "0"}}));
    REQUIRE_FALSE(zero_interval);
    CHECK_THAT(zero_interval.error().message, Catch::Contains("io.kontena.health_check.interval"));
    auto words = parse_health_check(
        labels({{health_label::protocol, "tcp"}, {health_label::port, "80"}, {health_label::timeout, "10s"}}));
    REQUIRE_FALSE(words);
  }
}

TEST_CASE("health result: the /containers/health entry", "[health]") {
  CHECK(HealthResult{"abc", true, 200}.to_json() == json{{"id", "abc"}, {"status", "healthy"}, {"status_code", 200}});
  CHECK(HealthResult{"abc", false, "closed"}.to_json() ==
        json{{"id", "abc"}, {"status", "unhealthy"}, {"status_code", "closed"}});
}

TEST_CASE("probe target: the container own address, loopback for host networking, none without one", "[health]") {
  CHECK(probe_address(json::parse(R"({"HostConfig":{"NetworkMode":"host"},"NetworkSettings":{"IPAddress":""}})")) ==
        "127.0.0.1");
  CHECK(probe_address(json::parse(R"({"HostConfig":{"NetworkMode":"default"},
      "NetworkSettings":{"IPAddress":"10.213.0.2","Networks":{"bridge":{"IPAddress":"10.213.0.2"}}}})")) ==
        "10.213.0.2");
  // A user-defined network: the top-level address is empty, the network's is not.
  CHECK(probe_address(json::parse(R"({"HostConfig":{"NetworkMode":"app"},
      "NetworkSettings":{"IPAddress":"","Networks":{"app":{"IPAddress":"172.20.0.5"}}}})")) == "172.20.0.5");
  CHECK_FALSE(probe_address(json::parse(R"({"HostConfig":{"NetworkMode":"none"},
      "NetworkSettings":{"IPAddress":"","Networks":{"none":{"IPAddress":""}}}})")));
  CHECK_FALSE(probe_address(json::parse(R"({"HostConfig":{"NetworkMode":"container:abc"},"NetworkSettings":{}})")));
  CHECK_FALSE(probe_address(json::parse(R"({"Id":"x"})")));
}

TEST_CASE("probes: tcp connect and http status on loopback, no redirects followed", "[health]") {
  SECTION("tcp") {
    asio::io_context io;
    asio::ip::tcp::acceptor listening(io, {asio::ip::make_address("127.0.0.1"), 0});
    CHECK(tcp_port_open("127.0.0.1", listening.local_endpoint().port(), 1s));
    CHECK_FALSE(tcp_port_open("127.0.0.1", closed_port(), 1s));
    CHECK_FALSE(tcp_port_open("not-an-address", 80, 1s));
  }
  SECTION("http") {
    http::CurlTransport transport;
    {
      CannedHttp ok(answer(200, {}, std::string(200000, 'x')));  // a large page: only the status counts
      auto p = http_probe(transport, "127.0.0.1", ok.port(), "/health", 2s);
      CHECK(p.healthy);
      CHECK(p.status == 200);
    }
    {
      // 3xx is healthy as it stands: the Location (a closed port) is never followed.
      CannedHttp moved(answer(302, "Location: http://127.0.0.1:" + std::to_string(closed_port()) + "/\r\n"));
      auto p = http_probe(transport, "127.0.0.1", moved.port(), "/", 2s);
      CHECK(p.healthy);
      CHECK(p.status == 302);
    }
    {
      CannedHttp missing(answer(404));
      auto p = http_probe(transport, "127.0.0.1", missing.port(), "/gone", 2s);
      CHECK_FALSE(p.healthy);
      CHECK(p.status == 404);
    }
    auto refused = http_probe(transport, "127.0.0.1", closed_port(), "/", 2s);
    CHECK_FALSE(refused.healthy);
    CHECK_FALSE(refused.status);
    CHECK_FALSE(refused.error.empty());
  }
}

namespace {

// The cgroup v2 shape of dockerd 20.10 (no total_* counters, lower-case blkio ops), trimmed.
const char* kStatsV2 = R"({
  "read": "2026-11-30T14:10:02.000000000Z", "preread": "2026-11-30T14:10:01.000000000Z",
  "pids_stats": {"current": 2, "limit": 4615},
  "blkio_stats": {
    "io_service_bytes_recursive": [{"major": 254, "minor": 0, "op": "read", "value": 1146880},
                                   {"major": 254, "minor": 0, "op": "write", "value": 4096}],
    "io_serviced_recursive": null, "io_queue_recursive": null, "io_service_time_recursive": null,
    "io_wait_time_recursive": null, "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null},
  "num_procs": 0, "storage_stats": {},
  "cpu_stats": {"cpu_usage": {"total_usage": 52913000, "usage_in_kernelmode": 20000000, "usage_in_usermode": 32913000},
                "system_cpu_usage": 8412350000000, "online_cpus": 2,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
  "precpu_stats": {"cpu_usage": {"total_usage": 42913000, "usage_in_kernelmode": 16000000, "usage_in_usermode": 26913000},
                   "system_cpu_usage": 8410350000000, "online_cpus": 2,
                   "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
  "memory_stats": {"usage": 2187264,
                   "stats": {"active_anon": 167936, "active_file": 540672, "anon": 131072, "file": 1622016,
                             "inactive_anon": 0, "inactive_file": 409600, "kernel_stack": 16384, "shmem": 0},
                   "limit": 4109455360},
  "name": "/web.web-1", "id": "0123456789ab",
  "networks": {"eth0": {"rx_bytes": 1296, "rx_packets": 16, "rx_errors": 0, "rx_dropped": 0,
                        "tx_bytes": 420, "tx_packets": 5, "tx_errors": 0, "tx_dropped": 0}}
})";

// Recorded: GET /containers/ID/stats?stream=false from Debian's dockerd 20.10 on a cgroup v1
// host with 2 CPUs, a busybox shell loop (the id shortened).
const char* kRecordedV1 = R"(
{"blkio_stats":{"io_merged_recursive":[],"io_queue_recursive":[],"io_service_bytes_recursive":[],
"io_service_time_recursive":[],"io_serviced_recursive":[],"io_time_recursive":[],
"io_wait_time_recursive":[],"sectors_recursive":[]},"cpu_stats":{"cpu_usage":{"percpu_usage":[1006474,
978146855],"total_usage":979153329,"usage_in_kernelmode":800000000,"usage_in_usermode":170000000},
"online_cpus":2,"system_cpu_usage":22527460000000,"throttling_data":{"periods":0,"throttled_periods":0,
"throttled_time":0}},"id":"84e0dbc04cb9","memory_stats":{"limit":25276059648,"max_usage":3559424,
"stats":{"active_anon":4096,"active_file":0,"cache":0,"dirty":0,
"hierarchical_memory_limit":9223372036854771712,"hierarchical_memsw_limit":9223372036854771712,
"inactive_anon":61440,"inactive_file":0,"mapped_file":0,"pgfault":1039,"pgmajfault":0,"pgpgin":755,
"pgpgout":739,"rss":65536,"rss_huge":0,"total_active_anon":4096,"total_active_file":0,"total_cache":0,
"total_dirty":0,"total_inactive_anon":61440,"total_inactive_file":0,"total_mapped_file":0,
"total_pgfault":1039,"total_pgmajfault":0,"total_pgpgin":755,"total_pgpgout":739,"total_rss":65536,
"total_rss_huge":0,"total_unevictable":0,"total_writeback":0,"unevictable":0,"writeback":0},"usage":598016},
"name":"/busy.busy-1","networks":{"eth0":{"rx_bytes":736,"rx_dropped":0,"rx_errors":0,"rx_packets":8,
"tx_bytes":0,"tx_dropped":0,"tx_errors":0,"tx_packets":0}},"num_procs":0,"pids_stats":{"current":1},
"precpu_stats":{"cpu_usage":{"percpu_usage":[1006474,660030423],"total_usage":661036897,
"usage_in_kernelmode":530000000,"usage_in_usermode":120000000},"online_cpus":2,
"system_cpu_usage":22525450000000,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},
"preread":"2026-11-30T14:24:25.201731398Z","read":"2026-11-30T14:24:26.204431817Z","storage_stats":{}}
)";

// The same container a minute earlier (network rates).
const char* kPreviousV2 = R"({"read": "2026-11-30T14:09:02.000000000Z",
  "networks": {"eth0": {"rx_bytes": 96, "tx_bytes": 0}}})";

// cgroup v1 with disk I/O and a hierarchy (total_inactive_file above inactive_file).
const char* kStatsV1 = R"({
  "read": "2026-11-30T14:10:02.000000000Z", "preread": "2026-11-30T14:10:01.000000000Z",
  "blkio_stats": {"io_service_bytes_recursive": [{"major": 8, "minor": 0, "op": "Read", "value": 8192},
                                                 {"major": 8, "minor": 0, "op": "Write", "value": 0},
                                                 {"major": 8, "minor": 0, "op": "Total", "value": 8192}],
                  "io_serviced_recursive": [{"major": 8, "minor": 0, "op": "Read", "value": 2}]},
  "cpu_stats": {"cpu_usage": {"total_usage": 300000000, "percpu_usage": [100000000, 100000000, 50000000, 50000000]},
                "system_cpu_usage": 4004000000000, "online_cpus": 4},
  "precpu_stats": {"cpu_usage": {"total_usage": 100000000, "percpu_usage": [50000000, 50000000, 0, 0]},
                   "system_cpu_usage": 4000000000000, "online_cpus": 4},
  "memory_stats": {"usage": 10485760, "max_usage": 12000000,
                   "stats": {"cache": 4194304, "inactive_file": 1048576, "total_inactive_file": 3145728, "rss": 6291456},
                   "limit": 268435456},
  "name": "/db.db-1", "id": "fedcba987654", "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}}
})";

const char* kInspect = R"({"Id": "0123456789ab", "Created": "2026-11-30T14:00:00.000000000Z",
  "Config": {"Image": "127.0.0.1:5000/web", "Labels": {"io.kontena.service.id": "svc1"}},
  "HostConfig": {"CpuShares": 0, "Memory": 0, "MemorySwap": 0, "CpusetCpus": ""}})";

}  // namespace

TEST_CASE("container stats: cpu, memory, network and disk I/O from the engine's stats", "[stats]") {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1533904496));
  SECTION("cgroup v2") {
    auto s = container_stat("0123456789ab", json::parse(kStatsV2), json::parse(kInspect), json::parse(kPreviousV2), now);
    CHECK(s["id"] == "0123456789ab");
    CHECK(s["time"] == "2018-08-10 12:34:56 UTC");
    // 10 ms of CPU in a window where the host's 2 CPUs ran 2 s: 1 % of one CPU.
    CHECK(s["cpu"]["usage"] == 10000000);
    CHECK(s["cpu"]["usage_pct"] == 1.0);
    CHECK(s["memory"]["usage"] == 2187264);
    CHECK(s["memory"]["working_set"] == 2187264 - 409600);
    CHECK(s["network"]["external"]["interfaces"] == json::array({"eth0"}));
    CHECK(s["network"]["external"]["rx_bytes"] == 1296);
    CHECK(s["network"]["external"]["tx_bytes"] == 420);
    CHECK(s["network"]["external"]["rx_bytes_per_second"] == 20.0);  // 1200 bytes in 60 s
    CHECK(s["network"]["external"]["tx_bytes_per_second"] == 7.0);
    CHECK(s["network"]["internal"]["rx_bytes"] == 0);  // no overlay (ethwe) on this node
    CHECK(s["diskio"]["io_service_bytes"] ==
          json::parse(R"([{"major":254,"minor":0,"stats":{"Read":1146880,"Write":4096}}])"));
    CHECK(s["diskio"]["io_serviced"] == json::array());
    CHECK(s["filesystem"] == json::array());
    // The spec `kontena service stats` reads: default shares, every CPU, no limit -> the host's memory.
    CHECK(s["spec"]["cpu"]["limit"] == 1024);
    CHECK(s["spec"]["cpu"]["mask"] == "0-1");
    CHECK(s["spec"]["memory"]["limit"] == 4109455360ULL);
    CHECK(s["spec"]["labels"]["io.kontena.service.id"] == "svc1");
  }
  SECTION("recorded (cgroup v1, no limits, first sample)") {
    auto s = container_stat("84e0dbc04cb9", json::parse(kRecordedV1), json::parse(kInspect), json(), now);
    CHECK(s["cpu"]["usage"] == 979153329 - 661036897);
    // 318 ms of CPU over 2.01 s of host CPU time on 2 CPUs: 31.65 % of one CPU.
    CHECK(s["cpu"]["usage_pct"] == 31.65);
    CHECK(s["memory"]["usage"] == 598016);
    CHECK(s["memory"]["working_set"] == 598016);  // total_inactive_file 0
    CHECK(s["spec"]["memory"]["limit"] == 25276059648ULL);
    CHECK(s["network"]["external"]["rx_bytes"] == 736);
    CHECK(s["diskio"]["io_service_bytes"] == json::array());
  }
  SECTION("cgroup v1, limits set, first sample") {
    auto inspect = json::parse(kInspect);
    inspect["HostConfig"]["CpuShares"] = 512;
    inspect["HostConfig"]["Memory"] = 268435456;
    inspect["HostConfig"]["CpusetCpus"] = "0,2";
    auto s = container_stat("fedcba987654", json::parse(kStatsV1), inspect, json(), now);
    // 200 ms over 4 s of host CPU time on 4 CPUs: 20 % of one CPU.
    CHECK(s["cpu"]["usage"] == 200000000);
    CHECK(s["cpu"]["usage_pct"] == 20.0);
    CHECK(s["memory"]["working_set"] == 10485760 - 3145728);  // total_inactive_file on v1
    CHECK(s["network"]["external"]["rx_bytes_per_second"] == 0);
    CHECK(s["diskio"]["io_service_bytes"][0]["stats"] == json{{"Read", 8192}, {"Write", 0}, {"Total", 8192}});
    CHECK(s["diskio"]["io_serviced"][0]["stats"]["Read"] == 2);
    CHECK(s["spec"]["cpu"]["limit"] == 512);
    CHECK(s["spec"]["cpu"]["mask"] == "0,2");
    CHECK(s["spec"]["memory"]["limit"] == 268435456);
  }
  SECTION("an idle window and a counter that went back (a restart) never give negative numbers") {
    auto doc = json::parse(kStatsV2);
    doc["precpu_stats"]["cpu_usage"]["total_usage"] = 60000000;  // above the current one
    doc["memory_stats"]["stats"]["inactive_file"] = 9999999;
    auto s = container_stat("x", doc, json::parse(kInspect), json(), now);
    CHECK(s["cpu"]["usage"] == 0);
    CHECK(s["cpu"]["usage_pct"] == 0.0);
    CHECK(s["memory"]["working_set"] == 0);
  }
}

namespace {

// Records the master calls; answers every request with {}.
struct RecordingPort : MasterPort {
  std::vector<std::pair<std::string, json>> calls;
  void call(std::string method, json params, std::function<void(Result<json>)> done) override {
    calls.emplace_back(std::move(method), std::move(params));
    done(json::object());
  }
  void notify(std::string method, json params) override { calls.emplace_back(std::move(method), std::move(params)); }
};

struct Restart {
  std::string service_id;
  int n;
  std::string container_id, started_at;
};

// A service container with host networking (so probes go to 127.0.0.1) checked on `port`.
ServiceContainer host_container(const std::string& id, int port, const std::string& started_at,
                                const char* protocol = "http") {
  ServiceContainer c;
  c.id = id;
  c.name = "web.web-1";
  c.service_id = "svc1";
  c.instance_number = 1;
  c.inspect = {{"Id", id},
               {"State", {{"Running", true}, {"StartedAt", started_at}}},
               {"HostConfig", {{"NetworkMode", "host"}}},
               {"Config",
                {{"Labels",
                  {{health_label::protocol, protocol},
                   {health_label::port, std::to_string(port)},
                   {health_label::uri, "/health"},
                   {health_label::interval, "1"},
                   {health_label::timeout, "1"},
                   {health_label::initial_delay, "0"}}}}}};
  return c;
}

}  // namespace

TEST_CASE("health checker: reports each probe, restarts an unhealthy container with its start time, ends on stop",
          "[health]") {
  asio::io_context loop;
  RecordingPort master;
  std::vector<Restart> restarts;
  RuntimeContext context;
  context.loop = loop.get_executor();
  context.master = &master;
  context.restart_instance = [&](const std::string& s, int n, const std::string& id, const std::string& at) {
    restarts.push_back({s, n, id, at});
  };
  auto checker = std::make_shared<HealthChecker>(context);
  auto run_until = [&](const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end) {
      loop.restart();
      loop.run_for(20ms);
    }
    return pred();
  };
  auto reports = [&] {
    std::vector<json> out;
    for (const auto& [m, p] : master.calls) {
      if (m == HealthChecker::kHealth) out.push_back(p.at(0));
    }
    return out;
  };

  SECTION("healthy: reported, no restart; told again about the same run: still one check") {
    CannedHttp ok(answer(200));
    checker->on_container_running(host_container("c1", ok.port(), "2026-11-30T10:00:00.5Z"));
    checker->on_container_running(host_container("c1", ok.port(), "2026-11-30T10:00:00.5Z"));
    CHECK(checker->checked_containers() == 1);
    REQUIRE(run_until([&] { return reports().size() >= 2; }));  // the first at once, the next an interval later
    CHECK(reports()[0] == json{{"id", "c1"}, {"status", "healthy"}, {"status_code", 200}});
    CHECK(restarts.empty());
  }
  SECTION("unhealthy: reported with its status, and the instance restarted if still this run") {
    CannedHttp failing(answer(503));
    checker->on_container_running(host_container("c1", failing.port(), "2026-11-30T10:00:00.5Z"));
    REQUIRE(run_until([&] { return !restarts.empty(); }));
    CHECK(reports().at(0) == json{{"id", "c1"}, {"status", "unhealthy"}, {"status_code", 503}});
    CHECK(restarts[0].service_id == "svc1");
    CHECK(restarts[0].n == 1);
    CHECK(restarts[0].container_id == "c1");
    CHECK(restarts[0].started_at == "2026-11-30T10:00:00.5Z");
  }
  SECTION("tcp: a closed port is unhealthy with status_code closed") {
    checker->on_container_running(host_container("c1", closed_port(), "2026-11-30T10:00:00.5Z", "tcp"));
    REQUIRE(run_until([&] { return !reports().empty(); }));
    CHECK(reports()[0] == json{{"id", "c1"}, {"status", "unhealthy"}, {"status_code", "closed"}});
  }
  SECTION("the container stops: no more probes") {
    CannedHttp ok(answer(200));
    checker->on_container_running(host_container("c1", ok.port(), "2026-11-30T10:00:00.5Z"));
    REQUIRE(run_until([&] { return !reports().empty(); }));
    checker->on_container_stopped("c1");
    CHECK(checker->checked_containers() == 0);
    const auto seen = reports().size();
    CHECK_FALSE(run_until([&] { return reports().size() > seen; }, 1500ms));  // longer than the interval
  }
  SECTION("no health check label, or a container without an address: not checked") {
    auto plain = host_container("c2", 80, "2026-11-30T10:00:00.5Z");
    plain.inspect["Config"]["Labels"] = json::object();
    checker->on_container_running(plain);
    auto isolated = host_container("c3", 80, "2026-11-30T10:00:00.5Z");
    isolated.inspect["HostConfig"]["NetworkMode"] = "none";
    checker->on_container_running(isolated);
    CHECK(checker->checked_containers() == 0);
  }
  checker->stop();
}

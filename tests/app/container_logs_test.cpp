// Service container logs end to end: a real `kontena-agent run` follows a busybox service on
// a private dockerd and sends its output to the master simulator, which stores it as the
// Kontena master does and serves it like `kontena service logs`. Lines must arrive in order,
// with no gap and no repeat, across an agent restart; and while the master reads slowly the
// agent must hold back instead of buffering the output.
#include "docker/container_api.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/agent_process.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"
#include "support/registry.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

using namespace std::chrono_literals;
using json = nlohmann::json;
using kn::test::Dockerd;
using kn::test::MasterSim;
using kn::test::Registry;
using kn::test::wait_until;

namespace {

using Agent = kn::test::AgentProcess;

// A registry with the busybox image as NAME:latest, pushed from a throw-away dockerd (the
// node's engine pulls it as the runtime does for every deploy).
std::string publish_busybox(const Registry& registry, const std::string& name) {
  const std::string image = registry.address() + "/" + name;
  Dockerd builder;
  kn::test::import_busybox_image(builder, image + ":latest");
  kn::test::push_image(builder, image + ":latest");
  return image;
}

json one_service_stack(const std::string& stack, const std::string& service, const std::string& image,
                       const std::string& script) {
  return {{"name", stack},
          {"services",
           {{{"name", service},
             {"image", image},
             {"cmd", json::array({"sh", "-c", script})},
             {"strategy", "daemon"},
             {"instances", 1},
             {"affinity", {"label==ephemeral=true"}}}}}};
}

bool instance_running(const json& service) {
  if (!service.is_object() || service["instances"].size() != 1) return false;
  const auto& i = service["instances"][0];
  return i.value("state", "") == "running" && i["rev"].is_string() && i["rev"] == i["deploy_rev"];
}

// The service's container on the engine, found by the label the runtime sets.
std::string container_id(const Dockerd& dockerd, const json& service) {
  auto api = kn::docker::ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  auto list = api->list({"io.kontena.service.id=" + service.value("service_id", std::string())});
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  return list->front().id;
}

// The service's last stdout line `data` is stored. Docker copies stdout and stderr on their
// own, so the final stderr line may come just before or after it; asking for the last two
// lines keeps the polling cheap for the simulator.
bool has_last_line(const MasterSim& master, const std::string& stack, const std::string& service,
                   const std::string& data) {
  const auto last = master.service_logs(stack, service, 2);
  return std::any_of(last.begin(), last.end(), [&](const json& l) { return l.value("data", "") == data; });
}

// The stdout lines' data, in the master's order.
std::vector<std::string> stdout_data(const json& logs) {
  std::vector<std::string> out;
  for (const auto& l : logs) {
    if (l.value("type", "") == "stdout") out.push_back(l.value("data", ""));
  }
  return out;
}

// "0", "1", ... "n-1".
std::vector<std::string> numbers(int n, const std::string& prefix = {}) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// The first place where `got` differs from `want`, for the failure message.
std::string first_difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) return "at line " + std::to_string(i) + ": got '" + got[i] + "', want '" + want[i] + "'";
  }
  return "got " + std::to_string(got.size()) + " lines, want " + std::to_string(want.size());
}

// VmRSS (from /proc/PID/status) and Private_Dirty (from /proc/PID/smaps_rollup), in KiB.
struct Memory {
  long rss_kib = 0;
  long private_dirty_kib = 0;
};
long field_kib(const std::filesystem::path& file, const std::string& name) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::istringstream fields(line.substr(name.size() + 1));
      long kib = 0;
      fields >> kib;
      return kib;
    }
  }
  return -1;
}
Memory memory_of(pid_t pid) {
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  return {field_kib(proc / "status", "VmRSS"), field_kib(proc / "smaps_rollup", "Private_Dirty")};
}

// User plus system CPU time of a process so far, in milliseconds.
long cpu_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(all.substr(all.rfind(')') + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // fields 3..13
  long utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

struct Setup {
  Registry registry;
  Dockerd dockerd{[] {
    kn::test::DockerdOptions o;
    o.own_bridge = true;
    return o;
  }()};
  MasterSim master;
  std::string image;
  Setup() {
    image = publish_busybox(registry, "kn/logger");
    master.configure({{"scheduler_interval_ms", 300}, {"deploy_poll_ms", 100}});
  }
};

json deploy(MasterSim& master, Agent& agent, const json& stack) {
  master.create_stack(stack);
  const std::string name = stack["services"][0]["name"];
  json service;
  const bool deployed = wait_until(
      [&] {
        service = master.service(stack["name"], name);
        return instance_running(service);
      },
      90s);
  INFO("service show: " << service.dump(2) << "\nagent log:\n" << agent.log());
  REQUIRE(deployed);
  return service;
}

}  // namespace

TEST_CASE("container logs: every line reaches the master in order, none lost or repeated across an agent restart "
          "and a reconnect",
          "[runtime][e2e][logs]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  REQUIRE(kn::test::busybox_image_available());
  Setup s;
  Agent agent(s.master, &s.dockerd, {.ephemeral = true});
  REQUIRE(s.master.wait_for_status("node-1", "online", 20s));

  // A numbered line every 10 ms for about 10 s, then one line on stderr; a pause of 1 s after
  // line 599 lets the test drop the master link while no batch is on its way (a notification
  // written just as the master closes is lost, as with Kontena's own agent: docs/runtime.md).
  const std::string script =
      "trap 'exit 0' TERM; i=0; while [ $i -lt 1000 ]; do echo $i; i=$((i+1)); /usr/bin/busybox usleep 10000; "
      "if [ $i -eq 600 ]; then sleep 1; fi; done; echo finished >&2; while true; do sleep 1; done";
  auto service = deploy(s.master, agent, one_service_stack("logs", "counter", s.image, script));
  const std::string id = container_id(s.dockerd, service);

  // Restart the agent while the service is mid-way: the lines written meanwhile wait in Docker.
  REQUIRE(wait_until([&] { return s.master.service_logs("logs", "counter", 1000).size() >= 200; }, 30s));
  REQUIRE(agent.terminate() == 0);
  const auto before_restart = stdout_data(s.master.all_service_logs("logs", "counter")).size();
  agent.start();

  // The master drops the link in the pause; the agent reconnects (within about 1 s) while the
  // service goes on writing.
  REQUIRE(wait_until([&] { return has_last_line(s.master, "logs", "counter", "599"); }, 30s));
  const auto handshakes = s.master.stats().value("handshakes", 0);
  s.master.close("node-1", 4031, "closed by test");
  CHECK(wait_until([&] { return s.master.stats().value("handshakes", 0) > handshakes; }, 10s));

  INFO("agent log:\n" << agent.log().substr(0, 20000));
  // The stderr line comes 10 ms after the last stdout line.
  REQUIRE(wait_until([&] { return has_last_line(s.master, "logs", "counter", "finished"); }, 60s));
  const auto logs = s.master.all_service_logs("logs", "counter");
  const auto got = stdout_data(logs);
  const auto want = numbers(1000);
  INFO(first_difference(got, want));
  CHECK(got == want);
  CHECK(before_restart < 1000);  // the restart did happen mid-stream
  CHECK(std::count_if(logs.begin(), logs.end(), [](const json& l) {
          return l.value("type", "") == "stderr" && l.value("data", "") == "finished";
        }) == 1);
  std::cerr << "measured: " << before_restart << " of 1000 lines before the agent restart, "
            << logs.size() << " stored in the end\n";

  // What `kontena service logs` shows per line.
  const auto& first = logs.front();
  CHECK(first.value("name", "") == "logs.counter-1");
  CHECK(first.value("container_id", "") == id);
  CHECK(first.value("instance_number", 0) == 1);
  CHECK(first.value("created_at", "").size() == std::string("2018-08-10T12:34:56.123Z").size());
  for (std::size_t i = 1; i < logs.size(); ++i) {
    if (logs[i].value("created_at", "") < logs[i - 1].value("created_at", "")) {
      FAIL("created_at goes back at line " << i);
    }
  }
  // `limit` without `from`: the last lines.
  const auto last = s.master.service_logs("logs", "counter", 2);
  REQUIRE(last.size() == 2);
  CHECK(last[0].value("data", "") == "999");

  // The cursor is kept while the container exists and goes with it.
  const auto cursor = agent.state_dir() / "logs" / id;
  CHECK(std::filesystem::exists(cursor));
  s.master.remove_stack("logs");
  CHECK(wait_until([&] { return !std::filesystem::exists(cursor); }, 30s));
  CHECK(agent.terminate() == 0);
}

TEST_CASE("container logs: a master that reads slowly throttles the follower - memory stays bounded, nothing is lost",
          "[runtime][e2e][logs]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  REQUIRE(kn::test::busybox_image_available());
  Setup s;
  // No keepalive rounds during the slow phase: a pong behind megabytes of queued frames would
  // be late, which is not what this test is about.
  s.master.configure({{"ping_interval_ms", 600000}});
  kn::test::AgentOptions options{.ephemeral = true};
#if defined(__SANITIZE_ADDRESS__)
  // ASan keeps freed blocks in a quarantine (256 MiB by default) before reusing them, so under
  // it RSS follows the bytes allocated over time, not the bytes held, and the bound below would
  // measure the quarantine. Without the quarantine, freed memory is reused as with glibc and
  // the bound again tells a bounded follower from one that holds the whole backlog.
  // https://github.com/google/sanitizers/wiki/AddressSanitizerFlags (quarantine_size_mb)
  // Added to the options the test main set for children (report directory, halt_on_error).
  const char* inherited = std::getenv("ASAN_OPTIONS");
  options.env.emplace_back("ASAN_OPTIONS", std::string(inherited != nullptr ? inherited : "") +
                                               ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0");
#endif
  Agent agent(s.master, &s.dockerd, options);
  REQUIRE(s.master.wait_for_status("node-1", "online", 20s));

  // 100-byte lines as fast as busybox sh writes them: about 4 MB in total, which the agent
  // would hold (and more, as JSON) if it read on regardless of the master.
  constexpr int kLines = 40000;
  const std::string pad(88, '.');
  const std::string script = "trap 'exit 0' TERM; i=0; while [ $i -lt " + std::to_string(kLines) +
                             " ]; do echo \"" + pad + " $i\"; i=$((i+1)); done; while true; do sleep 1; done";
  const auto idle = memory_of(agent.process->pid());
  s.master.configure({{"read_delay_ms", 5}});
  auto service = deploy(s.master, agent, one_service_stack("flood", "writer", s.image, script));

  // Sample while the writer runs and the master lags.
  Memory peak = idle;
  const auto until = std::chrono::steady_clock::now() + 6s;
  while (std::chrono::steady_clock::now() < until) {
    const auto m = memory_of(agent.process->pid());
    peak.rss_kib = std::max(peak.rss_kib, m.rss_kib);
    peak.private_dirty_kib = std::max(peak.private_dirty_kib, m.private_dirty_kib);
    std::this_thread::sleep_for(50ms);
  }
  const auto received_slowly = s.master.service_logs("flood", "writer", 10000).size();
  std::cerr << "measured: agent idle RSS " << idle.rss_kib << " KiB, Private_Dirty " << idle.private_dirty_kib
            << " KiB; peak while throttled RSS " << peak.rss_kib << " KiB, Private_Dirty " << peak.private_dirty_kib
            << " KiB; the master had " << received_slowly << " of " << kLines << " lines after 6 s\n";
  // The master really lagged: most of the output was still in Docker's log file.
  CHECK(received_slowly < kLines / 2);
  // The follower holds one batch (10 lines) and libcurl's 16 KiB buffer: with its thread, the
  // batch's JSON and MessagePack copies and allocator slack under 2 MiB more than idle
  // (measured: about 0.3 MiB). Holding the 4 MB of output instead would break this bound.
#if defined(__SANITIZE_ADDRESS__)
  // ASan's size classes, redzones and shadow pages add about 1.8 MiB here (measured 2.1 MiB in
  // all); 3 MiB still tells a bounded follower from one holding the 4 MB backlog.
  constexpr long kBoundKib = 3 * 1024;
#else
  constexpr long kBoundKib = 2 * 1024;
#endif
  CHECK(peak.rss_kib - idle.rss_kib < kBoundKib);
  CHECK(peak.private_dirty_kib - idle.private_dirty_kib < kBoundKib);

  // At full speed again the backlog drains: every line, in order.
  s.master.configure({{"read_delay_ms", 0}});
  const auto drain_start = std::chrono::steady_clock::now();
  const long cpu_agent = cpu_ms(agent.process->pid()), cpu_master = cpu_ms(s.master.pid()),
             cpu_docker = cpu_ms(s.dockerd.pid());
  const bool complete = wait_until(
      [&] { return has_last_line(s.master, "flood", "writer", pad + " " + std::to_string(kLines - 1)); }, 90s);
  std::cerr << "measured: the backlog drained in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - drain_start).count()
            << " ms; CPU ms used meanwhile: agent " << cpu_ms(agent.process->pid()) - cpu_agent << ", master simulator "
            << cpu_ms(s.master.pid()) - cpu_master << ", dockerd " << cpu_ms(s.dockerd.pid()) - cpu_docker << "\n";
  const auto logs = s.master.all_service_logs("flood", "writer");
  INFO("lines stored: " << logs.size());
  REQUIRE(complete);
  const auto got = stdout_data(logs);
  const auto want = numbers(kLines, pad + " ");
  INFO(first_difference(got, want));
  CHECK(got == want);
  const auto cursor = agent.state_dir() / "logs" / container_id(s.dockerd, service);
  s.master.remove_stack("flood");
  CHECK(wait_until([&] { return !std::filesystem::exists(cursor); }, 60s));
  CHECK(agent.terminate() == 0);
}

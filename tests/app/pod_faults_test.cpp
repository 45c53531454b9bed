// The service pods' fault matrix (docs/fault-matrix.md, section Service pods), end to end:
// `kontena-agent run` on a private dockerd with its own bridge, the master simulator's
// service side, and a loopback docker-registry, against registries that refuse or hang, a
// master link lost in the middle of a deploy, an agent killed with SIGKILL in the middle of
// a deploy, and a container that exits at once, again and again. Each test prints what it
// measured as "measured: ..." lines, the numbers the fault matrix quotes.
#include "docker/container_api.hpp"
#include "support/agent_process.hpp"
#include "support/loopback_port.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"
#include "support/registry.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <iostream>
#include <regex>

using namespace std::chrono_literals;
using json = nlohmann::json;
using kn::test::AgentProcess;
using kn::test::LoopbackPort;
using kn::test::Dockerd;
using kn::test::MasterSim;
using kn::test::Registry;
using kn::test::ms_since;
using kn::test::wait_until;

namespace {

using Clock = std::chrono::steady_clock;

// A node with a private dockerd, and a loopback registry holding the busybox image.
struct Rig {
  Registry registry;
  Dockerd dockerd{[] {
    kn::test::DockerdOptions o;
    o.own_bridge = true;
    return o;
  }()};
  MasterSim master;
  std::string image;

  Rig() {
    REQUIRE(kn::test::busybox_image_available());
    image = registry.address() + "/kn/busybox:1";
    kn::test::import_busybox_image(dockerd, image);
    kn::test::push_image(dockerd, image);
    master.configure({{"scheduler_interval_ms", 300}, {"deploy_poll_ms", 100}});
  }
  kn::docker::ContainerApi api() const {
    auto a = kn::docker::ContainerApi::connect(dockerd.docker_host());
    REQUIRE(a);
    return std::move(*a);
  }
  // Every container on the engine, service or not, running or not.
  std::vector<kn::docker::ContainerSummary> all_containers() const {
    auto a = api();
    auto list = a.list({});
    REQUIRE(list);
    return *list;
  }
  void create_stack(const std::string& image_name, const json& cmd) {
    master.create_stack({{"name", "app"},
                         {"services",
                          {{{"name", "web"},
                            {"image", image_name},
                            {"cmd", cmd},
                            {"strategy", "daemon"},
                            {"instances", 1}}}}});
  }
  json service() const { return master.service("app", "web"); }
  void remove_all() {
    auto a = api();
    for (const auto& c : all_containers()) (void)a.remove(c.id, true, true);
  }
};

const json kSleep = json::array({"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"});

bool instance_running(const json& service) {
  if (!service.is_object() || service["instances"].size() != 1) return false;
  const auto& i = service["instances"][0];
  return i.value("state", "") == "running" && i["rev"].is_string() && i["rev"] == i["deploy_rev"];
}

std::string instance_error(const json& service) {
  if (!service.is_object() || service["instances"].size() != 1) return {};
  const auto& e = service["instances"][0]["error"];
  return e.is_string() ? e.get<std::string>() : std::string();
}

}  // namespace

TEST_CASE("pod fault: a registry that refuses connections - the error reaches the master, the node stays up",
          "[runtime][e2e][faults]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  Rig rig;
  AgentProcess node(rig.master, &rig.dockerd, {.name = "node-1", .ephemeral = true});
  REQUIRE(rig.master.wait_for_status("node-1", "online", 20s));
  LoopbackPort refusing(false);
  const auto t0 = Clock::now();
  rig.create_stack(refusing.address() + "/app/web:1", kSleep);
  json service;
  const bool reported = wait_until([&] {
    service = rig.service();
    return !instance_error(service).empty();
  }, 60s);
  INFO(service.dump(2) << "\n" << node.log());
  REQUIRE(reported);
  std::cerr << "measured: refusing registry -> error on the instance after " << ms_since(t0) << " ms\n";
  CHECK_THAT(instance_error(service), Catch::Contains(refusing.address() + "/app/web:1"));
  CHECK(rig.all_containers().empty());
  CHECK(node.process->running());
  CHECK(rig.master.node("node-1")["status"] == "online");
  CHECK(node.terminate() == std::optional<int>(0));
}

TEST_CASE("pod fault: a registry that hangs - the node keeps serving the master and stops at once on SIGTERM",
          "[runtime][e2e][faults]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  Rig rig;
  AgentProcess node(rig.master, &rig.dockerd, {.name = "node-1", .ephemeral = true});
  REQUIRE(rig.master.wait_for_status("node-1", "online", 20s));
  LoopbackPort hanging(true);
  rig.create_stack(hanging.address() + "/app/web:1", kSleep);
  REQUIRE(wait_until([&] { return node.log().find(": pull ") != std::string::npos; }, 30s));
  // While the pull hangs, the link and the master's requests are served.
  const auto t0 = Clock::now();
  const auto reply = rig.master.request("node-1", "/etcd/health", json::array(), 5s);
  const auto answered = ms_since(t0);
  INFO(node.log());
  CHECK(reply["error"]["code"] == 501);
  CHECK(rig.master.node("node-1")["status"] == "online");
  std::cerr << "measured: hanging registry -> a master request answered in " << answered << " ms during the pull\n";
  const auto t1 = Clock::now();
  CHECK(node.terminate() == std::optional<int>(0));
  std::cerr << "measured: hanging registry -> SIGTERM exit in " << ms_since(t1) << " ms\n";
}

TEST_CASE("pod fault: the master connection lost in the middle of a deploy - the deploy completes after the reconnect",
          "[runtime][e2e][faults]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  Rig rig;
  AgentProcess node(rig.master, &rig.dockerd, {.name = "node-1", .ephemeral = true});
  REQUIRE(rig.master.wait_for_status("node-1", "online", 20s));
  rig.create_stack(rig.image, kSleep);
  // As soon as the agent works on the pod, the link goes (a master restart or a network cut).
  REQUIRE(wait_until([&] { return node.log().find("pod ") != std::string::npos; }, 30s));
  rig.master.close("node-1", 4030, "ping timeout");
  const auto t0 = Clock::now();
  json service;
  const bool running = wait_until([&] {
    service = rig.service();
    return instance_running(service) && rig.master.stats()["accepted"].get<int>() >= 2;
  }, 60s);
  INFO(service.dump(2) << "\n" << node.log());
  REQUIRE(running);
  std::cerr << "measured: link lost mid-deploy -> instance running with rev == deploy_rev " << ms_since(t0)
            << " ms after the close\n";
  CHECK(rig.all_containers().size() == 1);
  CHECK(node.terminate() == std::optional<int>(0));
  rig.remove_all();
}

TEST_CASE("pod fault: the agent killed with SIGKILL in the middle of a deploy - started again, one container, no orphan",
          "[runtime][e2e][faults]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  const std::string step = GENERATE(as<std::string>{}, "pull", "create", "start");
  CAPTURE(step);
  Rig rig;
  AgentProcess node(rig.master, &rig.dockerd, {.name = "node-1", .ephemeral = true});
  REQUIRE(rig.master.wait_for_status("node-1", "online", 20s));
  rig.create_stack(rig.image, kSleep);
  const std::regex at_step("pod [^ ]+: " + step + " ");
  REQUIRE(wait_until([&] { return std::regex_search(node.log(), at_step); }, 30s));
  node.process->signal(SIGKILL);
  REQUIRE(node.process->wait_for(5s) == std::optional<int>(128 + SIGKILL));

  const auto t0 = Clock::now();
  node.start();
  json service;
  const bool running = wait_until([&] {
    service = rig.service();
    return instance_running(service);
  }, 60s);
  INFO(service.dump(2) << "\n" << node.log());
  REQUIRE(running);
  std::cerr << "measured: SIGKILL at '" << step << "' -> restarted agent has the instance running " << ms_since(t0)
            << " ms after its start\n";
  // Exactly one container on the engine: no duplicate of the instance, no orphan left behind.
  const auto all = rig.all_containers();
  CHECK(all.size() == 1);
  CHECK_FALSE(wait_until([&] { return rig.all_containers().size() != 1; }, 2s));
  CHECK(node.terminate() == std::optional<int>(0));
  rig.remove_all();
}

TEST_CASE("pod fault: a container that exits at once is restarted with a growing delay - no busy loop",
          "[runtime][e2e][faults]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  Rig rig;
  AgentProcess node(rig.master, &rig.dockerd, {.name = "node-1", .ephemeral = true});
  REQUIRE(rig.master.wait_for_status("node-1", "online", 20s));
  rig.create_stack(rig.image, json::array({"sh", "-c", "exit 3"}));
  const std::regex crash(R"(exited with code 3, restarting in ([0-9]+) s)");
  auto delays = [&] {
    std::vector<int> out;
    const auto log = node.log();
    for (auto it = std::sregex_iterator(log.begin(), log.end(), crash); it != std::sregex_iterator(); ++it) {
      out.push_back(std::stoi((*it)[1].str()));
    }
    return out;
  };
  const auto t0 = Clock::now();
  const bool looped = wait_until([&] { return delays().size() >= 3; }, 40s);
  const auto elapsed = ms_since(t0);
  const auto seen = delays();
  INFO(node.log());
  REQUIRE(looped);
  std::cerr << "measured: crash loop -> restart delays";
  for (int d : seen) std::cerr << ' ' << d << " s";
  std::cerr << " (3 crashes in " << elapsed << " ms)\n";
  CHECK(seen[1] > seen[0]);
  CHECK(seen[2] > seen[1]);
  CHECK(elapsed >= 1000L * (seen[0] + seen[1]));  // each delay was kept
  CHECK(rig.all_containers().size() == 1);        // restarted in place, never duplicated
  CHECK(node.process->running());
  CHECK(rig.master.node("node-1")["status"] == "online");
  CHECK(node.terminate() == std::optional<int>(0));
  rig.remove_all();
}

// Health checks, wait_for_port and container stats end to end with real peers on this
// machine: the master simulator deploys a service, a real `kontena-agent run` runs it on a
// private dockerd with a bridge of its own (so the container has an address the host can
// reach), and the image comes from a loopback docker-registry. Nothing is mocked.
#include "docker/container_api.hpp"
#include "runtime/port_probe.hpp"
#include "runtime/stats_reporter.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/agent_process.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"
#include "support/registry.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <iostream>

using namespace std::chrono_literals;
using json = nlohmann::json;
using kn::test::Dockerd;
using kn::test::MasterSim;
using kn::test::Registry;
using kn::test::wait_until;

namespace {

using Agent = kn::test::AgentProcess;

// A private dockerd with its own bridge, the busybox image in a loopback registry (the agent
// pulls it), the master simulator and one agent.
struct Node {
  Registry registry;
  Dockerd dockerd;
  std::string image;
  MasterSim master;
  std::optional<Agent> agent;

  explicit Node(const std::string& stats_interval = "60s")
      : dockerd([] {
          kn::test::DockerdOptions o;
          o.own_bridge = true;
          return o;
        }()),
        image(registry.address() + "/kn/web:latest") {
    {
      Dockerd builder;
      kn::test::import_busybox_image(builder, image);
      kn::test::push_image(builder, image);
    }
    master.configure({{"scheduler_interval_ms", 300}, {"deploy_poll_ms", 100}});
    agent.emplace(master, &dockerd,
                  kn::test::AgentOptions{.ephemeral = true, .env = {{"KONTENA_STATS_INTERVAL", stats_interval}}});
    REQUIRE(master.wait_for_status("node-1", "online", 20s));
  }

  kn::docker::ContainerApi api() const {
    auto a = kn::docker::ContainerApi::connect(dockerd.docker_host());
    REQUIRE(a);
    return std::move(*a);
  }
};

bool instance_running(const json& service) {
  if (!service.is_object() || service["instances"].size() != 1) return false;
  const auto& i = service["instances"][0];
  return i.value("state", "") == "running" && i["rev"].is_string() && i["rev"] == i["deploy_rev"];
}

json one_service(const std::string& name, const std::string& image, const std::string& cmd, json extra = json::object()) {
  json s{{"name", name},
         {"image", image},
         {"cmd", json::array({"sh", "-c", cmd})},
         {"strategy", "ha"},
         {"instances", 1}};
  s.update(extra);
  return {{"name", name}, {"services", json::array({s})}};
}

std::string health_of(const MasterSim& master, const std::string& name) {
  auto containers = master.service_containers(name, name);
  if (containers.size() != 1 || !containers[0]["health_status"].is_string()) return "";
  return containers[0]["health_status"].get<std::string>();
}

}  // namespace

TEST_CASE("health check: an http check turns unhealthy, the instance is restarted and is healthy again",
          "[runtime][e2e][health]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  REQUIRE(kn::test::busybox_image_available());
  Node node;
  // The served file is made at every start, so a restart brings it back.
  node.master.create_stack(one_service(
      "web", node.image, "busybox mkdir -p /www && echo ok > /www/ok.txt && exec httpd -f -p 8080 -h /www",
      {{"health_check",
        {{"protocol", "http"}, {"port", 8080}, {"uri", "/ok.txt"}, {"interval", 1}, {"timeout", 1},
         {"initial_delay", 1}}}}));
  json service;
  const bool deployed = wait_until([&] { return instance_running(service = node.master.service("web", "web")); }, 90s);
  INFO("service show: " << service.dump(2) << "\nagent log:\n" << node.agent->log());
  REQUIRE(deployed);

  CHECK(wait_until([&] { return health_of(node.master, "web") == "healthy"; }, 20s));
  auto api = node.api();
  const auto containers = node.master.service_containers("web", "web");
  REQUIRE(containers.size() == 1);
  const std::string id = containers[0]["id"];
  auto before = api.inspect(id);
  REQUIRE(before);
  const std::string started = (*before)["State"]["StartedAt"];

  // The page goes away: 404 is unhealthy.
  auto rm = kn::test::run({"/usr/bin/docker", "-H", node.dockerd.docker_host(), "exec", id, "busybox", "rm", "-f",
                           "/www/ok.txt"});
  REQUIRE(rm.exit_code == 0);
  CHECK(wait_until([&] { return health_of(node.master, "web") == "unhealthy"; }, 20s));
  // Restarted in place (same container, a new start), then healthy again.
  CHECK(wait_until([&] {
    auto doc = api.inspect(id);
    return doc && (*doc)["State"].value("Running", false) && (*doc)["State"].value("StartedAt", "") != started;
  }, 30s));
  CHECK(wait_until([&] { return health_of(node.master, "web") == "healthy"; }, 20s));
  CHECK_THAT(node.agent->log(), Catch::Contains("is unhealthy"));
  CHECK(node.master.service_containers("web", "web")[0]["id"] == id);
}

TEST_CASE("wait_for_port: the instance is reported running only once its port accepts connections",
          "[runtime][e2e][health]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  REQUIRE(kn::test::busybox_image_available());
  Node node;
  // The server opens its port 3 s after the container starts.
  node.master.create_stack(one_service("slow", node.image, "sleep 3; exec httpd -f -p 8080 -h /",
                                       {{"wait_for_port", 8080}}));
  json service;
  const bool deployed =
      wait_until([&] { return instance_running(service = node.master.service("slow", "slow")); }, 90s);
  INFO("service show: " << service.dump(2) << "\nagent log:\n" << node.agent->log());
  REQUIRE(deployed);
  // At the moment the master first sees `running`, the port is open (without the wait the
  // report would come about 3 s before it).
  auto api = node.api();
  const auto containers = node.master.service_containers("slow", "slow");
  REQUIRE(containers.size() == 1);
  auto doc = api.inspect(containers[0]["id"].get<std::string>());
  REQUIRE(doc);
  const auto address = kn::runtime::probe_address(*doc);
  REQUIRE(address);
  CHECK(kn::runtime::tcp_port_open(*address, 8080, 1s));
  CHECK_FALSE(service["instances"][0]["error"].is_string());
}

TEST_CASE("container stats: the master shows cpu, memory and limits of a busy service container",
          "[runtime][e2e][stats]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  REQUIRE(kn::test::busybox_image_available());
  Node node("1s");
  node.master.create_stack(one_service("busy", node.image, "while true; do echo spin > /dev/null; done"));
  json service;
  const bool deployed =
      wait_until([&] { return instance_running(service = node.master.service("busy", "busy")); }, 90s);
  INFO("service show: " << service.dump(2) << "\nagent log:\n" << node.agent->log());
  REQUIRE(deployed);
  json stats;
  const bool reported = wait_until(
      [&] {
        stats = node.master.service_stats("busy", "busy");
        return stats.size() == 1 && stats[0]["cpu"].is_object() && stats[0]["cpu"]["usage"].is_number() &&
               stats[0]["cpu"]["usage"].get<double>() > 0;
      },
      30s);
  INFO("service stats: " << stats.dump(2));
  REQUIRE(reported);
  CHECK(stats[0]["container_id"] == "busy.busy-1");
  CHECK(stats[0]["memory"]["usage"].get<double>() > 0);
  CHECK(stats[0]["memory"]["limit"].get<double>() > 0);
  CHECK(stats[0]["cpu"]["limit"] == 1024);
  CHECK(stats[0]["cpu"]["num_cores"].get<int>() >= 1);
  CHECK(stats[0]["network"]["external"]["interfaces"] == json::array({"eth0"}));

  // The engine's own document, read now, has the fields the numbers come from on this host's
  // cgroup version (v1: total_inactive_file, v2: inactive_file).
  auto api = node.api();
  const std::string id = node.master.service_containers("busy", "busy")[0]["id"];
  auto live = api.stats(id);
  REQUIRE(live);
  const auto& memory = (*live)["memory_stats"]["stats"];
  CHECK((memory.contains("inactive_file") || memory.contains("total_inactive_file")));
  auto doc = api.inspect(id);
  REQUIRE(doc);
  auto entry = kn::runtime::container_stat(id, *live, *doc, json(), std::chrono::system_clock::now());
  CHECK(entry["cpu"]["usage"].get<std::uint64_t>() > 0);
  CHECK(entry["memory"]["working_set"].get<std::uint64_t>() > 0);
  CHECK(entry["memory"]["working_set"].get<std::uint64_t>() <= entry["memory"]["usage"].get<std::uint64_t>());
}

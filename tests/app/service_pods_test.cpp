// The node runs what the master schedules, end to end with real peers on this machine: the
// master simulator deploys a daemon stack with `affinity: label==ephemeral=true`, a real
// `kontena-agent run` process runs it on a private dockerd (with a bridge of its own), the
// image comes from a loopback docker-registry with htpasswd credentials, and nothing is mocked.
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
#include <iostream>

using namespace std::chrono_literals;
using json = nlohmann::json;
using kn::test::Dockerd;
using kn::test::MasterSim;
using kn::test::Registry;
using kn::test::wait_until;

namespace {

constexpr const char* kUser = "deployer";
constexpr const char* kPassword = "s3cret-registry-pass";  // must never show in a log

using Agent = kn::test::AgentProcess;

kn::docker::ContainerApi docker_api(const Dockerd& d) {
  auto api = kn::docker::ContainerApi::connect(d.docker_host());
  REQUIRE(api);
  return std::move(*api);
}

// The service's containers on the engine (the runtime finds them by these labels too).
std::vector<kn::docker::ContainerSummary> service_containers(kn::docker::ContainerApi& api, const json& service) {
  auto list = api.list({"io.kontena.service.id=" + service.value("service_id", std::string())});
  REQUIRE(list);
  return *list;
}

bool instance_running(const json& service) {
  if (!service.is_object() || service["instances"].size() != 1) return false;
  const auto& i = service["instances"][0];
  return i.value("state", "") == "running" && i["rev"].is_string() && i["rev"] == i["deploy_rev"];
}

json inspect(kn::docker::ContainerApi& api, const std::string& id) {
  auto doc = api.inspect(id);
  REQUIRE(doc);
  return *doc;
}

bool running_since(kn::docker::ContainerApi& api, const std::string& id, const std::string& not_started_at) {
  auto doc = api.inspect(id);
  return doc && (*doc)["State"].value("Running", false) && (*doc)["State"].value("StartedAt", "") != not_started_at;
}

std::string started_at(kn::docker::ContainerApi& api, const std::string& id) {
  return inspect(api, id)["State"].value("StartedAt", "");
}

json stress_stack(const std::string& image) {
  // The ASG example stack, with the loopback registry's image; the command keeps PID 1 alive
  // and turns SIGTERM into exit 0 (a process that ends normally must be restarted too).
  return {{"name", "stress"},
          {"services",
           {{{"name", "stress"},
             {"image", image},
             {"cmd", json::array({"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"})},
             {"strategy", "daemon"},
             {"instances", 1},
             {"affinity", {"label==ephemeral=true"}},
             {"cpu_shares", 100},
             {"volumes", {"/scratch"}}}}}};
}

}  // namespace

TEST_CASE("service pods: a daemon stack lands on the ephemeral node and lives through crashes, restarts and removal",
          "[runtime][e2e]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  REQUIRE(kn::test::busybox_image_available());

  Registry registry({.username = kUser, .password = kPassword});
  kn::test::DockerdOptions docker_options;
  docker_options.own_bridge = true;
  Dockerd dockerd(docker_options);
  const std::string image = registry.address() + "/progrium/stress";  // no tag: latest
  {
    // The image reaches the registry from a throw-away dockerd, so the node's engine has to pull it.
    Dockerd builder;
    kn::test::import_busybox_image(builder, image + ":latest");
    kn::test::push_image(builder, image + ":latest",
                         kn::docker::RegistryAuth{.username = kUser, .password = kPassword,
                                                  .server_address = registry.address()});
  }
  auto api = docker_api(dockerd);
  REQUIRE_FALSE(api.inspect_image(image + ":latest"));

  MasterSim master;
  master.configure({{"scheduler_interval_ms", 300}, {"deploy_poll_ms", 100}});
  // `kontena registry add`: the grid's credentials reach the pod as image_credentials.
  auto added = master.rest("POST", "/v1/grids/" + master.grid() + "/external_registries",
                           {{"url", "http://" + registry.address()}, {"username", kUser}, {"password", kPassword}});
  REQUIRE(added.status == 201);

  Agent node1(master, &dockerd, {.name = "node-1", .ephemeral = true});
  Agent node2(master, nullptr, {.name = "node-2", .ephemeral = false});
  REQUIRE(master.wait_for_status("node-1", "online", 20s));
  REQUIRE(master.wait_for_status("node-2", "online", 20s));

  const auto defined = std::chrono::steady_clock::now();
  master.create_stack(stress_stack(image));
  json service;
  const bool deployed = wait_until(
      [&] {
        service = master.service("stress", "stress");
        return instance_running(service);
      },
      90s);
  INFO("service show: " << service.dump(2) << "\nagent log:\n" << node1.log());
  REQUIRE(deployed);
  const auto to_running = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                defined);
  std::cerr << "measured: stack defined -> instance running with rev == deploy_rev in " << to_running.count()
            << " ms (image pulled from the loopback registry)\n";

  // The instance is on the labelled node only; the unlabelled node got no pod.
  CHECK(service["instances"][0]["node"] == "node-1");
  for (const auto& deploy : service["deploys"]) {
    for (const auto& i : deploy["instances"]) CHECK(i["node"] == "node-1");
  }

  auto containers = service_containers(api, service);
  REQUIRE(containers.size() == 1);
  const std::string id = containers[0].id;
  auto doc = inspect(api, id);
  CHECK(doc["HostConfig"]["CpuShares"] == 100);
  CHECK(doc["HostConfig"]["RestartPolicy"].value("Name", "") != "always");
  const auto& labels = doc["Config"]["Labels"];
  CHECK(labels["io.kontena.container.type"] == "container");
  CHECK(labels["io.kontena.service.instance_number"] == "1");
  CHECK(labels["io.kontena.container.deploy_rev"] == service["instances"][0]["deploy_rev"]);
  CHECK(labels["io.kontena.service.name"] == "stress");
  CHECK(labels["io.kontena.stack.name"] == "stress");
  CHECK(doc["Name"] == "/stress.stress-1");
  // The master knows the container (containers/save) and shows it under the instance.
  CHECK(wait_until([&] { return !master.service("stress", "stress")["instances"][0]["containers"].empty(); }, 10s));

  SECTION("agent restarted: the container is adopted, not recreated") {
    REQUIRE(node1.terminate() == std::optional<int>(0));
    CHECK(inspect(api, id)["State"]["Running"] == true);  // the agent's stop leaves services running
    node1.start();
    REQUIRE(master.wait_for_status("node-1", "online", 20s));
    // Adoption happens on the first list after node_info; a recreate would replace the id.
    CHECK(wait_until([&] { return node1.log().find("/node_service_pods/list") != std::string::npos; }, 10s));
    CHECK_FALSE(wait_until([&] {
      auto now = service_containers(api, service);
      return now.size() != 1 || now[0].id != id;
    }, 3s));
    CHECK(inspect(api, id)["State"]["Running"] == true);
  }

  SECTION("killed, or exited 0: the container runs again") {
    auto before = started_at(api, id);
    REQUIRE(kn::test::run({"/usr/bin/docker", "-H", dockerd.docker_host(), "kill", id}).exit_code == 0);
    CHECK(wait_until([&] { return running_since(api, id, before); }, 20s));
    before = started_at(api, id);
    // SIGTERM: the command traps it and exits 0.
    REQUIRE(kn::test::run({"/usr/bin/docker", "-H", dockerd.docker_host(), "kill", "-s", "TERM", id}).exit_code == 0);
    CHECK(wait_until([&] {
      auto d = api.inspect(id);
      return d && (*d)["State"].value("ExitCode", -1) == 0 && running_since(api, id, before);
    }, 30s));
    CHECK(wait_until([&] { return running_since(api, id, before); }, 30s));
  }

  SECTION("dockerd restarted with the pod running: it runs again within 30 s") {
    const auto before = started_at(api, id);
    dockerd.restart();
    auto fresh = docker_api(dockerd);
    const auto restarted = std::chrono::steady_clock::now();
    CHECK(wait_until([&] { return running_since(fresh, id, before); }, 30s));
    std::cerr << "measured: dockerd restart -> pod running again in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted)
                     .count()
              << " ms\n";
  }

  SECTION("stack rm: stop, then the container and its anonymous volume are gone") {
    const auto mounts = inspect(api, id)["Mounts"];
    REQUIRE(mounts.size() == 1);
    const std::string volume = mounts[0].value("Name", "");
    REQUIRE_FALSE(volume.empty());
    master.remove_stack("stress");
    CHECK(wait_until([&] { return service_containers(api, service).empty(); }, 30s));
    auto volumes = kn::test::run({"/usr/bin/docker", "-H", dockerd.docker_host(), "volume", "ls", "-q"});
    CHECK(volumes.out.find(volume) == std::string::npos);
    // The master stopped the service first (notify ["stop"]), then deleted it (["terminate"]).
    CHECK_THAT(master.log(), Catch::Contains("service stopped service=" + master.grid() + "/stress/stress"));
    // The destroy event reached the master: the container record is gone.
    CHECK(wait_until([&] {
      const auto all = master.containers();
      return std::none_of(all.begin(), all.end(), [&](const json& c) { return c["id"] == id; });
    }, 30s));  // a bound, not a measure: under TSan on a loaded 2-core machine 10 s was missed once
  }

  // The registry password is in no log line of the agents or the master.
  CHECK(node1.log().find(kPassword) == std::string::npos);
  CHECK(node2.log().find(kPassword) == std::string::npos);
  CHECK(master.log().find(kPassword) == std::string::npos);
  CHECK(node1.terminate() == std::optional<int>(0));
  CHECK(node2.terminate() == std::optional<int>(0));
  for (const auto& c : service_containers(api, service)) api.remove(c.id, true, true);
}

TEST_CASE("service pods: a missing image is reported through set_state and retried on the next list",
          "[runtime][e2e]") {
  REQUIRE(Dockerd::available());
  REQUIRE(Registry::available());
  Registry registry;
  Dockerd dockerd;
  MasterSim master;
  master.configure({{"deploy_poll_ms", 100}, {"deploy_timeout_ms", 20000}});
  Agent node(master, &dockerd, {.name = "node-1", .ephemeral = true});
  REQUIRE(master.wait_for_status("node-1", "online", 20s));

  const std::string image = registry.address() + "/nothing/here:1";
  master.create_stack({{"name", "app"},
                       {"services",
                        {{{"name", "web"},
                          {"image", image},
                          {"cmd", json::array({"sleep", "3600"})},
                          {"strategy", "daemon"},
                          {"instances", 1}}}}});
  json service;
  CHECK(wait_until([&] {
    service = master.service("app", "web");
    return service.is_object() && service["instances"].size() == 1 &&
           service["instances"][0]["error"].is_string() && service["instances"][0]["rev"].is_string();
  }, 30s));
  INFO(service.dump(2));
  CHECK_THAT(service["instances"][0]["error"].get<std::string>(), Catch::Contains("nothing/here"));

  // The image appears; the next list (here: a redeploy's notify_update) pulls it and runs the pod.
  kn::test::import_busybox_image(dockerd, image);
  master.rest("POST", "/v1/services/" + master.grid() + "/app/web/deploy");
  CHECK(wait_until([&] {
    service = master.service("app", "web");
    return instance_running(service) && service["instances"][0]["error"].is_null();
  }, 30s));
  auto api = docker_api(dockerd);
  for (const auto& c : service_containers(api, service)) api.remove(c.id, true, true);
  CHECK(node.terminate() == std::optional<int>(0));
}

TEST_CASE("node id: a start with Docker down and a later one with Docker up are the same node to the master",
          "[runtime][e2e]") {
  REQUIRE(Dockerd::available());
  MasterSim master;
  Agent node(master, nullptr, {.name = "node-1", .ephemeral = true});  // Docker down: the id comes from the host
  REQUIRE(master.wait_for_status("node-1", "online", 20s));
  const auto first = master.node("node-1")["node_id"];
  REQUIRE(first.is_string());
  REQUIRE(node.terminate() == std::optional<int>(0));

  Dockerd dockerd;  // now Docker answers, with an ID of its own
  node.env = kn::test::merge(node.env, dockerd.env());
  node.start();
  REQUIRE(master.wait_for_status("node-1", "online", 20s));
  CHECK(master.node("node-1")["node_id"] == first);
  CHECK(master.nodes().size() == 1);  // no second node in the grid
  CHECK(dockerd.info()["ID"] != first);
  CHECK(node.terminate() == std::optional<int>(0));
}

// Lifecycle hooks end to end: the master simulator's stack with `hooks:` (the kontena.yml
// shape), a real `kontena-agent run`, a private dockerd and the busybox image. The hooks write
// into a bind-mounted host directory, so the test sees what ran, how often and in which order.
#include "docker/container_api.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/agent_process.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"
#include "support/registry.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <sstream>

using namespace std::chrono_literals;
using json = nlohmann::json;
using kn::test::Dockerd;
using kn::test::MasterSim;
using kn::test::TempDir;
using kn::test::wait_until;

namespace {

using Agent = kn::test::AgentProcess;

std::vector<std::string> lines_of(const std::filesystem::path& file) {
  std::vector<std::string> out;
  std::istringstream in(std::filesystem::exists(file) ? kn::test::read_text(file) : std::string());
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Removes whatever the test left on the engine, also when a check failed.
struct EngineCleanup {
  const Dockerd& dockerd;
  ~EngineCleanup() {
    auto api = kn::docker::ContainerApi::connect(dockerd.docker_host());
    if (!api) return;
    if (auto all = api->list({"io.kontena.service.id"})) {
      for (const auto& c : *all) api->remove(c.id, true, true);
    }
  }
};

bool running_at(const json& service, const std::string& not_rev = {}) {
  if (!service.is_object() || service["instances"].size() != 1) return false;
  const auto& i = service["instances"][0];
  return i.value("state", "") == "running" && i["rev"].is_string() && i["rev"] == i["deploy_rev"] &&
         i["rev"] != not_rev;
}

}  // namespace

TEST_CASE("lifecycle hooks: the hooks run in order around start and stop and a oneshot runs once and a failing "
          "pre_start blocks the start",
          "[runtime][e2e][hooks]") {
  REQUIRE(Dockerd::available());
  REQUIRE(kn::test::Registry::available());
  REQUIRE(kn::test::busybox_image_available());

  // A loopback registry without the image: the pull fails there (never on the internet) and
  // the node uses the local copy.
  kn::test::Registry registry;
  kn::test::DockerdOptions options;
  options.own_bridge = true;
  Dockerd dockerd(options);
  EngineCleanup cleanup{dockerd};
  const std::string image = registry.address() + "/hooks/busybox:1";
  kn::test::import_busybox_image(dockerd, image);
  auto api = kn::docker::ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);

  MasterSim master;
  master.configure({{"scheduler_interval_ms", 300}, {"deploy_poll_ms", 100}, {"deploy_timeout_ms", 30000}});
  Agent agent(master, &dockerd);
  REQUIRE(master.wait_for_status("node-1", "online", 20s));

  TempDir data;
  const auto events = data / "events";
  const auto oneshot = data / "oneshot";
  const json web = {
      {"name", "web"},
      {"image", image},
      // SIGTERM is written down, so the file shows whether pre_stop ran before the stop.
      {"cmd", json::array({"sh", "-c", "trap 'echo term >> /data/events; exit 0' TERM; while true; do sleep 1; done"})},
      {"strategy", "daemon"},
      {"instances", 1},
      {"volumes", json::array({data.path().string() + ":/data"})},
      {"hooks",
       {{"pre_start",
         {{{"name", "migrate"}, {"cmd", "echo once >> /data/oneshot"}, {"instances", "*"}, {"oneshot", true}},
          {{"name", "prepare"}, {"cmd", "echo pre_start >> /data/events"}}}},
        {"post_start", {{{"name", "announce"}, {"cmd", "echo post_start >> /data/events; echo hello from post_start"}}}},
        {"pre_stop", {{{"name", "drain"}, {"cmd", "echo pre_stop >> /data/events"}}}}}}};
  master.create_stack({{"name", "app"}, {"services", {web}}});

  json service;
  const bool deployed = wait_until([&] { return running_at(service = master.service("app", "web")); }, 60s);
  INFO("service show: " << service.dump(2) << "\nagent log:\n" << agent.log());
  REQUIRE(deployed);
  CHECK(lines_of(oneshot) == std::vector<std::string>{"once"});
  CHECK(lines_of(events) == std::vector<std::string>{"pre_start", "post_start"});
  // The master counted the oneshot as done for instance 1.
  bool marked = false;
  for (const auto& h : service["spec"]["hooks"]) {
    if (h.value("name", "") == "migrate") marked = h["done"] == json::array({"1"});
  }
  CHECK(marked);
  // No hook container is left behind.
  auto hook_containers = api->list({"io.kontena.container.type=service_hook"});
  REQUIRE(hook_containers);
  CHECK(hook_containers->empty());
  auto first = api->list({"io.kontena.container.type=container"});
  REQUIRE(first);
  REQUIRE(first->size() == 1);

  // A changed service is redeployed: the old container gets pre_stop before its stop, the
  // new one pre_start and post_start, and the oneshot does not run again.
  const std::string first_rev = service["instances"][0]["rev"];
  auto updated = master.rest("PUT", "/v1/services/" + master.grid() + "/app/web", {{"env", json::array({"CHANGED=1"})}});
  REQUIRE(updated.status == 200);
  const bool redeployed = wait_until([&] { return running_at(service = master.service("app", "web"), first_rev); }, 60s);
  INFO("service show: " << service.dump(2) << "\nagent log:\n" << agent.log());
  REQUIRE(redeployed);
  auto second = api->list({"io.kontena.container.type=container"});
  REQUIRE(second);
  REQUIRE(second->size() == 1);
  CHECK(second->front().id != first->front().id);
  CHECK(lines_of(oneshot) == std::vector<std::string>{"once"});
  CHECK(lines_of(events) ==
        std::vector<std::string>{"pre_start", "post_start", "pre_stop", "term", "pre_start", "post_start"});

  // `kontena service stop`: pre_stop, then the stop; the container is kept, stopped.
  REQUIRE(master.rest("POST", "/v1/services/" + master.grid() + "/app/web/stop").status == 200);
  CHECK(wait_until([&] { return lines_of(events).size() == 8; }, 30s));
  CHECK(lines_of(events) == std::vector<std::string>{"pre_start", "post_start", "pre_stop", "term", "pre_start",
                                                     "post_start", "pre_stop", "term"});
  CHECK(wait_until([&] {
    auto doc = api->inspect(second->front().id);
    return doc && !(*doc)["State"].value("Running", true);
  }, 30s));

  // A pre_start hook that exits 1: no container is started, and the error is the instance's.
  const json bad = {{"name", "bad"},
                    {"image", image},
                    {"cmd", json::array({"sleep", "3600"})},
                    {"strategy", "daemon"},
                    {"instances", 1},
                    {"hooks", {{"pre_start", {{{"name", "check"}, {"cmd", "echo checking; exit 1"}}}}}}};
  master.create_stack({{"name", "broken"}, {"services", {bad}}});
  json failed;
  CHECK(wait_until([&] {
    failed = master.service("broken", "bad");
    return failed.is_object() && failed["instances"].size() == 1 && failed["instances"][0]["error"].is_string();
  }, 60s));
  INFO("service show: " << failed.dump(2) << "\nagent log:\n" << agent.log());
  const auto& instance = failed["instances"][0];
  CHECK(instance["state"] == "missing");
  CHECK_THAT(instance["error"].get<std::string>(), Catch::Contains("RuntimeError: failed to run the pre_start hook "
                                                                   "'echo checking; exit 1'") &&
                                                       Catch::Contains("exited with code 1"));
  bool error_event = false;
  for (const auto& e : failed["events"]) {
    if (e.value("type", "") == "service:create_instance" && e.value("msg", "").find("pre_start hook") != std::string::npos)
      error_event = true;
  }
  CHECK(error_event);
  auto bad_containers = api->list({"io.kontena.service.id=" + failed.value("service_id", std::string()),
                                   "io.kontena.container.type=container"});
  REQUIRE(bad_containers);
  CHECK(bad_containers->empty());
  hook_containers = api->list({"io.kontena.container.type=service_hook"});
  REQUIRE(hook_containers);
  CHECK(hook_containers->empty());
}

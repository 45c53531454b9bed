// Volumes end to end with real peers on this machine: `kontena-agent run` on a private dockerd
// (own bridge), the master simulator's stateful services and named volumes, the busybox image
// imported offline under a loopback registry name nobody serves (the pull fails at once and
// the local image is used, so no traffic leaves the machine).
#include "docker/container_api.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/agent_process.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <sstream>

using namespace std::chrono_literals;
using json = nlohmann::json;
using kn::test::Dockerd;
using kn::test::MasterSim;
using kn::test::wait_until;

namespace {

// 127.0.0.1:1 answers nothing: the pull fails at once and the imported image is used.
const std::string kImage = "127.0.0.1:1/kn/busybox:latest";

using Agent = kn::test::AgentProcess;

kn::docker::ContainerApi docker_api(const Dockerd& d) {
  auto api = kn::docker::ContainerApi::connect(d.docker_host());
  REQUIRE(api);
  return std::move(*api);
}

bool instance_running(const json& service) {
  if (!service.is_object() || service["instances"].size() != 1) return false;
  const auto& i = service["instances"][0];
  return i.value("state", "") == "running" && i["rev"].is_string() && i["rev"] == i["deploy_rev"];
}

// The id of the container of type `type` ("container" or "volume") of the service; "" when none.
std::string container_of(kn::docker::ContainerApi& api, const json& service, const std::string& type) {
  auto list = api.list({"io.kontena.service.id=" + service.value("service_id", std::string()),
                        "io.kontena.container.type=" + type});
  REQUIRE(list);
  return list->empty() ? std::string() : list->front().id;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Setup {
  Dockerd dockerd{kn::test::DockerdOptions{.own_bridge = true}};
  MasterSim master;
  kn::docker::ContainerApi api = docker_api(dockerd);
  std::unique_ptr<Agent> agent;

  Setup() {
    kn::test::import_busybox_image(dockerd, kImage);
    master.configure({{"scheduler_interval_ms", 300}, {"deploy_poll_ms", 100}});
    agent = std::make_unique<Agent>(master, &dockerd, kn::test::AgentOptions{.ephemeral = false});
    REQUIRE(master.wait_for_status("node-1", "online", 20s));
  }

  json wait_running(const std::string& stack, const std::string& name, const std::string& not_rev = {}) {
    json service;
    const bool ok = wait_until(
        [&] {
          service = master.service(stack, name);
          return instance_running(service) && service["instances"][0]["deploy_rev"] != not_rev;
        },
        90s);
    INFO("service show: " << service.dump(2) << "\nagent log:\n" << agent->log());
    REQUIRE(ok);
    return service;
  }
};

}  // namespace

TEST_CASE("volumes: a stateful service keeps its data across a redeploy that recreates its container",
          "[runtime][e2e][volumes]") {
  REQUIRE(Dockerd::available());
  REQUIRE(kn::test::busybox_image_available());
  Setup s;

  // Each start of the container appends a line to a file in its anonymous volume /data.
  const json db = {{"name", "db"},
                   {"image", kImage},
                   {"stateful", true},
                   {"strategy", "ha"},
                   {"instances", 1},
                   {"env", {"GEN=1"}},
                   {"cmd", json::array({"sh", "-c",
                                        "echo \"start $GEN\" >> /data/starts; trap 'exit 0' TERM; "
                                        "while true; do sleep 1; done"})},
                   {"stop_grace_period", 2},
                   {"volumes", {"/data"}}};
  s.master.create_stack({{"name", "app"}, {"services", {db}}});
  const auto first = s.wait_running("app", "db");
  const std::string c1 = container_of(s.api, first, "container");
  const std::string data = container_of(s.api, first, "volume");
  REQUIRE_FALSE(c1.empty());
  REQUIRE_FALSE(data.empty());

  // The data container: named after the pod, labelled, created and never started, holding /data.
  auto data_doc = s.api.inspect(data);
  REQUIRE(data_doc);
  CHECK((*data_doc)["Name"] == "/app.db-1-volumes");
  CHECK((*data_doc)["Config"]["Labels"]["io.kontena.service.instance_number"] == "1");
  CHECK((*data_doc)["State"]["StartedAt"] == "0001-01-01T00:00:00Z");
  REQUIRE((*data_doc)["Mounts"].size() == 1);
  CHECK((*data_doc)["Mounts"][0]["Destination"] == "/data");
  const std::filesystem::path starts = (*data_doc)["Mounts"][0]["Source"].get<std::string>() + "/starts";
  // The service container mounts the data container's volumes, and has none of its own.
  auto c1_doc = s.api.inspect(c1);
  REQUIRE(c1_doc);
  CHECK((*c1_doc)["HostConfig"]["VolumesFrom"] == json::array({"app.db-1-volumes"}));
  REQUIRE(wait_until([&] { return read_file(starts) == "start 1\n"; }, 10s));

  // `kontena service update --env GEN=2` bumps the revision; the scheduler leaves stateful
  // services alone, so `kontena service deploy`; the node recreates the container.
  const std::string path = "/v1/services/" + s.master.grid() + "/app/db";
  REQUIRE(s.master.rest("PUT", path, {{"env", {"GEN=2"}}}).status == 200);
  REQUIRE(s.master.rest("POST", path + "/deploy").status == 200);
  const auto second = s.wait_running("app", "db", first["instances"][0]["deploy_rev"].get<std::string>());
  const std::string c2 = container_of(s.api, second, "container");
  CHECK(c2 != c1);
  CHECK_FALSE(s.api.inspect(c1));
  CHECK(container_of(s.api, second, "volume") == data);
  // The new container appended to the same file: the data survived the recreation.
  CHECK(wait_until([&] { return read_file(starts) == "start 1\nstart 2\n"; }, 10s));
  INFO("starts: " << read_file(starts));

  // `kontena stack rm`: the container goes, then the data container with its volume.
  s.master.remove_stack("app");
  const bool gone = wait_until(
      [&] {
        auto all = s.api.list({"io.kontena.service.id=" + second.value("service_id", std::string())});
        return all && all->empty();
      },
      60s);
  INFO("agent log:\n" << s.agent->log());
  CHECK(gone);
  CHECK_FALSE(std::filesystem::exists(starts));
}

TEST_CASE("volumes: a named volume is created on the node, used by a service, and removed when the master drops it",
          "[runtime][e2e][volumes]") {
  REQUIRE(Dockerd::available());
  REQUIRE(kn::test::busybox_image_available());
  Setup s;

  // `kontena volume create --scope instance --driver local data`
  s.master.create_volume("data", "instance", "local", {{"type", "tmpfs"}, {"device", "tmpfs"}});
  const json web = {{"name", "web"},
                    {"image", kImage},
                    {"strategy", "ha"},
                    {"instances", 1},
                    {"cmd", json::array({"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"})},
                    {"stop_grace_period", 2},
                    {"volumes", {"data:/srv/data"}}};
  s.master.create_stack({{"name", "site"}, {"services", {web}}});
  const auto service = s.wait_running("site", "web");

  // The instance-scoped name, on the node with the volume's driver, options and labels.
  const std::string name = "site.web.data-1";
  const auto volume = s.master.volume("data");
  REQUIRE(volume["instances"].size() == 1);
  CHECK(volume["instances"][0]["name"] == name);
  CHECK(volume["instances"][0]["node"] == "node-1");
  auto doc = s.api.inspect_volume(name);
  REQUIRE(doc);
  CHECK((*doc)["Driver"] == "local");
  CHECK((*doc)["Options"] == json{{"type", "tmpfs"}, {"device", "tmpfs"}});
  CHECK((*doc)["Labels"].contains("io.kontena.volume_instance.id"));
  CHECK((*doc)["Labels"].contains("io.kontena.volume.id"));
  const std::string c = container_of(s.api, service, "container");
  auto c_doc = s.api.inspect(c);
  REQUIRE(c_doc);
  CHECK((*c_doc)["HostConfig"]["Binds"] == json::array({name + ":/srv/data"}));
  // The node confirmed it to the master.
  CHECK(wait_until([&] { return s.master.log().find("volume set_state node=node-1 name=\"" + name) != std::string::npos; }));

  // In use by a service: the master refuses to delete it.
  CHECK(s.master.rest("DELETE", "/v1/volumes/" + s.master.grid() + "/data").status == 422);

  // The service goes, then the volume: the node removes it from Docker.
  s.master.remove_stack("site");
  REQUIRE(wait_until([&] { return !s.api.inspect(c); }, 60s));
  CHECK(s.api.inspect_volume(name));  // the master still lists it
  s.master.remove_volume("data");
  const bool removed = wait_until(
      [&] {
        auto v = s.api.inspect_volume(name);
        return !v && v.error().is(kn::Errc::docker_not_found);
      },
      20s);
  INFO("agent log:\n" << s.agent->log());
  CHECK(removed);
}

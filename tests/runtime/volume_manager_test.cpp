// The volume manager: the list reply and the create body without Docker; then the manager
// against a real dockerd and a recording master port that answers /node_volumes/list with the
// volumes a case chooses (kontena v1.5.4: agent/lib/kontena/workers/volumes/volume_manager.rb).
#include "docker/container_api.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/executor.hpp"
#include "runtime/pod_manager.hpp"
#include "runtime/volume_manager.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"

#include <boost/asio/io_context.hpp>

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using kn::docker::ContainerApi;
using kn::test::Dockerd;
using nlohmann::json;

namespace {

const std::string kNode = "AAAA:BBBB:CCCC";

json entry(const std::string& name, const std::string& instance_id, json opts = json::object()) {
  return {{"volume_id", "vol-" + name},
          {"volume_instance_id", instance_id},
          {"name", name},
          {"driver", "local"},
          {"driver_opts", opts}};
}

// Answers /node_volumes/list with `volumes` (or an error), records every call.
struct RecordingMaster : MasterPort {
  json volumes = json::array();
  bool list_error = false;
  std::vector<std::pair<std::string, json>> calls;

  void call(std::string method, json params, std::function<void(Result<json>)> done) override {
    calls.emplace_back(method, params);
    if (method == "/node_volumes/list") {
      if (list_error) return done(fail(Errc::master_rpc_error, "failed to call the master: Node not found"));
      return done(json{{"volumes", volumes}});
    }
    if (method == "/node_service_pods/list") return done(json{{"service_pods", json::array()}});
    done(json::object());
  }
  void notify(std::string, json) override {}

  std::vector<json> params_of(const std::string& method) const {
    std::vector<json> out;
    for (const auto& [m, p] : calls) {
      if (m == method) out.push_back(p);
    }
    return out;
  }
};

struct Fixture {
  Dockerd dockerd;
  boost::asio::io_context io;
  RecordingMaster master;
  ContainerApi api = connect();
  std::shared_ptr<VolumeManager> manager;

  ContainerApi connect() {
    auto a = ContainerApi::connect(dockerd.docker_host());
    REQUIRE(a);
    return std::move(*a);
  }
  void start() {
    RuntimeContext ctx;
    ctx.loop = io.get_executor();
    ctx.docker_host = dockerd.docker_host();
    ctx.node_id = kNode;
    ctx.master = &master;
    manager = std::make_shared<VolumeManager>(ctx, VolumeManagerOptions{.list_interval = 30s});
    manager->on_online();
  }
  ~Fixture() {
    if (manager) manager->stop();
  }
  template <class Pred>
  bool until(Pred pred, std::chrono::milliseconds limit = 20s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io.restart();
      io.run_for(20ms);
    }
    return true;
  }
  bool exists(const std::string& name) { return static_cast<bool>(api.inspect_volume(name)); }
  // The notification ["remove"], then the whole pass it causes (list, Docker, reports).
  void notice() {
    const auto passes = manager->passes();
    manager->on_master_call(std::nullopt, "/volumes/notify_update", json::array({"remove"}), nullptr);
    REQUIRE(until([&] { return manager->passes() > passes; }));
  }
};

}  // namespace

TEST_CASE("volume manager: the list reply - an error names the bad entry") {
  auto ok = decode_node_volumes(json{{"volumes", {entry("a", "i1", {{"size", 1}})}}});
  REQUIRE(ok);
  REQUIRE(ok->size() == 1);
  CHECK((*ok)[0] == NodeVolume{"vol-a", "i1", "a", "local", {{"size", 1}}});
  auto bad = decode_node_volumes(json{{"volumes", {{{"name", "a"}}}}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().is(Errc::rpc_decode_failed));
  CHECK(bad.error().message.find("volume_instance_id") != std::string::npos);
  CHECK_FALSE(decode_node_volumes(json{{"service_pods", json::array()}}));
}

TEST_CASE("volume manager: the create body carries the driver - its options as strings - and the Kontena labels") {
  const auto body = volume_create_body(NodeVolume{"v1", "i1", "app.data-1", "local", {{"type", "tmpfs"}, {"size", 64}}});
  CHECK(body == json{{"Name", "app.data-1"},
                     {"Driver", "local"},
                     {"DriverOpts", {{"type", "tmpfs"}, {"size", "64"}}},
                     {"Labels", {{"io.kontena.volume_instance.id", "i1"}, {"io.kontena.volume.id", "v1"}}}});
}

TEST_CASE("volume manager: listed volumes are created and reported once - unlisted Kontena volumes removed - others kept",
          "[docker]") {
  REQUIRE_DOCKERD();
  Fixture f;
  // Not Kontena's: never touched.
  REQUIRE(f.api.create_volume(json{{"Name", "mine"}}));
  f.master.volumes = json::array({entry("va", "i1"), entry("vb", "i2")});
  f.start();
  REQUIRE(f.until([&] { return f.manager->passes() == 1; }));
  CHECK(f.master.params_of("/node_volumes/set_state").size() == 2);
  CHECK(f.exists("va"));
  CHECK(f.exists("vb"));
  const auto va = f.api.inspect_volume("va");
  REQUIRE(va);
  CHECK((*va)["Labels"]["io.kontena.volume_instance.id"] == "i1");
  CHECK((*va)["Labels"]["io.kontena.volume.id"] == "vol-va");
  CHECK(f.master.params_of("/node_volumes/set_state")[0] ==
        json::array({kNode, {{"name", "va"}, {"volume_instance_id", "i1"}, {"volume_id", "vol-va"}}}));

  // The same list again: nothing new to report on this connection.
  f.notice();
  CHECK(f.master.params_of("/node_volumes/set_state").size() == 2);

  // The master dropped vb: it goes; "mine" has no Kontena label and stays.
  f.master.volumes = json::array({entry("va", "i1")});
  f.notice();
  CHECK(f.until([&] { return !f.exists("vb"); }));
  CHECK(f.exists("va"));
  CHECK(f.exists("mine"));

  // A reconnect reports every volume again.
  f.manager->on_offline();
  f.manager->on_online();
  CHECK(f.until([&] { return f.master.params_of("/node_volumes/set_state").size() == 3; }));
}

TEST_CASE("volume manager: an RPC error is never an empty list - a volume in use stays and is retried", "[docker]") {
  REQUIRE_DOCKERD();
  REQUIRE(kn::test::busybox_image_available());
  Fixture f;
  kn::test::import_busybox_image(f.dockerd, "kn/busybox:1");
  f.master.volumes = json::array({entry("va", "i1")});
  f.start();
  REQUIRE(f.until([&] { return f.exists("va"); }));

  f.master.list_error = true;
  f.notice();
  CHECK(f.exists("va"));

  // A container mounts it: Docker refuses the removal (409); it stays until it is free.
  auto user = f.api.create("user", json{{"Image", "kn/busybox:1"}, {"Cmd", {"true"}}, {"HostConfig", {{"Binds", {"va:/a"}}}}});
  REQUIRE(user);
  f.master.list_error = false;
  f.master.volumes = json::array();
  f.notice();
  CHECK(f.exists("va"));
  REQUIRE(f.api.remove(*user, false, true));
  f.notice();
  CHECK(f.until([&] { return !f.exists("va"); }));
}

TEST_CASE("volume manager: /volumes/notify_update as a request is answered {} at once - then the node lists",
          "[docker]") {
  REQUIRE_DOCKERD();
  Fixture f;
  f.start();
  REQUIRE(f.until([&] { return f.master.params_of("/node_volumes/list").size() == 1; }));
  std::optional<Result<json>> answer;
  f.manager->on_master_call(7, "/volumes/notify_update", json::array({json::array()}),
                            [&](Result<json> r) { answer = std::move(r); });
  REQUIRE(answer.has_value());
  REQUIRE(*answer);
  CHECK(**answer == json::object());
  CHECK(f.until([&] { return f.master.params_of("/node_volumes/list").size() == 2; }));
  CHECK(f.master.params_of("/node_volumes/list")[1] == json::array({kNode}));
}

TEST_CASE("executor: a pod waits for its named volumes - then fails naming the missing one", "[docker]") {
  REQUIRE_DOCKERD();
  Dockerd dockerd;
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  ServicePod pod;
  pod.service_name = "app.web";
  pod.instance_number = 1;
  pod.volumes = {{"app.data-1", std::nullopt, "/data", std::nullopt, "local", json::object()},
                 {std::nullopt, "/tmp", "/host", std::nullopt, std::nullopt, json::object()}};
  auto missing = wait_for_volumes(*api, pod, 300ms, 50ms);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is(Errc::volume_missing));
  CHECK(missing.error().message.find("app.data-1") != std::string::npos);
  REQUIRE(api->create_volume(json{{"Name", "app.data-1"}}));
  CHECK(wait_for_volumes(*api, pod, 300ms, 50ms));
}

TEST_CASE("pod manager: a data container whose pod is no longer listed is removed with its volumes", "[docker]") {
  REQUIRE_DOCKERD();
  REQUIRE(kn::test::busybox_image_available());
  Dockerd dockerd;
  kn::test::import_busybox_image(dockerd, "kn/busybox:1");
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  // What a stateful pod leaves when its container went while the agent was away.
  ServicePod pod;
  pod.service_id = "svc9";
  pod.service_name = "app.db";
  pod.instance_number = 1;
  pod.image_name = "kn/busybox:1";
  pod.stateful = true;
  pod.volumes = {{std::nullopt, std::nullopt, "/data", std::nullopt, std::nullopt, json::object()}};
  auto data = api->create(data_container_name(pod), data_container_body(pod));
  REQUIRE(data);
  auto volumes = api->list_volumes({});
  REQUIRE(volumes);
  REQUIRE(volumes->size() == 1);

  boost::asio::io_context io;
  RecordingMaster master;
  PodManager manager(io.get_executor(), dockerd.docker_host(), kNode, master, PodManagerOptions{});
  manager.start();
  manager.on_node_info();
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (api->inspect(*data) && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(20ms);
  }
  manager.stop();
  CHECK_FALSE(api->inspect(*data));
  auto left = api->list_volumes({});
  REQUIRE(left);
  CHECK(left->empty());  // removed with v=1
}

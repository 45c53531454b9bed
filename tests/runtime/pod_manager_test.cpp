// The PodManager against a real dockerd (own bridge, busybox image imported offline) and a
// recording MasterPort that answers /node_service_pods/list with the pods a case chooses.
// The image is named after a loopback port nobody listens on, so the pull fails at once and
// the local image is used: no traffic leaves the machine.
#include "docker/container_api.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/pod_manager.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/registry.hpp"

#include "core/logging.hpp"

#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <csignal>
#include <deque>
#include <iostream>
#include <sstream>
#include <filesystem>

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using kn::docker::ContainerApi;
using kn::test::Dockerd;
using nlohmann::json;

namespace {

constexpr const char* kNeedPeers = "needs root, /usr/sbin/dockerd and busybox-static: run scripts/install-deps.sh as root";
const std::string kNode = "AAAA:BBBB:CCCC";

struct Call {
  std::string method;
  json params;
};

// Records every call; answers list with `pods` (or `list_error`), everything else with {}.
struct RecordingMaster : MasterPort {
  std::vector<Call> calls;
  std::vector<Call> notes;
  json pods = json::array();
  bool list_error = false;

  void call(std::string method, json params, std::function<void(Result<json>)> done) override {
    calls.push_back({method, params});
    if (method == "/node_service_pods/list") {
      if (list_error) return done(fail(Errc::master_unavailable, "failed to call the master: Node not found"));
      return done(json{{"service_pods", pods}});
    }
    done(json::object());
  }
  void notify(std::string method, json params) override { notes.push_back({method, params}); }

  std::vector<json> params_of(const std::string& method) const {
    std::vector<json> out;
    for (const auto& c : calls) {
      if (c.method == method) out.push_back(c.params);
    }
    for (const auto& c : notes) {
      if (c.method == method) out.push_back(c.params);
    }
    return out;
  }
  std::size_t count(const std::string& method) const { return params_of(method).size(); }
};

json stress_pod(const std::string& image, const std::string& rev, json cmd = json::array({"sleep", "3600"})) {
  return json{{"id", "svc1/1"},
              {"desired_state", "running"},
              {"service_id", "svc1"},
              {"service_name", "stress.stress"},
              {"service_revision", 1},
              {"instance_number", 1},
              {"deploy_rev", rev},
              {"image_name", image},
              {"cmd", cmd},
              {"cpu_shares", 100},
              {"net", "bridge"},
              {"hostname", "stress-1"},
              {"domainname", "stress.grid.kontena.local"},
              {"stop_grace_period", 1},
              {"volumes", json::array({{{"bind_mount", nullptr}, {"path", "/data"}, {"flags", nullptr}}})},
              {"labels", {{"io.kontena.service.id", "svc1"}, {"io.kontena.stack.name", "stress"}}}};
}

struct Fixture {
  boost::asio::io_context io;
  RecordingMaster master;
  std::string host;
  std::unique_ptr<PodManager> manager;

  explicit Fixture(std::string docker_host) : host(std::move(docker_host)) {}

  void start() {
    manager = std::make_unique<PodManager>(io.get_executor(), host, kNode, master,
                                           PodManagerOptions{.list_interval = 30s, .cleanup_interval = 300ms});
    manager->start();
    manager->on_master_info();
    manager->on_node_info();
  }
  void restart_manager() {
    manager->stop();
    manager.reset();
    io.restart();
    io.poll();
    start();
  }

  // Runs the loop until `pred` holds or `limit` passes.
  template <class Pred>
  bool until(Pred pred, std::chrono::milliseconds limit = 30s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io.restart();
      io.run_for(20ms);
    }
    return true;
  }

  void notify_update() {
    bool replied = false;
    manager->on_master_call(7, "/service_pods/notify_update", json::array({json::array()}), [&](Result<json> r) {
      REQUIRE(r.has_value());
      CHECK(*r == json::object());
      replied = true;
    });
    CHECK(replied);  // at once: the master waits at most 5 s
  }

  bool state_sent(const std::string& state, const json& rev, const std::string& error_part = {}) const {
    for (const auto& p : master.params_of("/node_service_pods/set_state")) {
      if (p[0] != kNode) continue;
      const auto& s = p[1];
      if (s["service_id"] == "svc1" && s["instance_number"] == 1 && s["state"] == state && s["rev"] == rev &&
          (error_part.empty() ? s["error"].is_null()
                              : s["error"].is_string() &&
                                    s["error"].get<std::string>().find(error_part) != std::string::npos)) {
        return true;
      }
    }
    return false;
  }
};

// An image named after a loopback port nobody listens on: the executor's pull fails at once and,
// once `import_busybox_image` put it there, the local copy is used.
std::string unreachable_image(const std::string& repository) {
  return "127.0.0.1:" + std::to_string(kn::test::free_loopback_port()) + "/kn/" + repository;
}

std::vector<kn::docker::ContainerSummary> pod_containers(ContainerApi& api) {
  auto list = api.list({"io.kontena.service.id=svc1", "io.kontena.container.type=container"});
  REQUIRE(list.has_value());
  return *list;
}

std::optional<json> running_container(ContainerApi& api) {
  auto list = pod_containers(api);
  if (list.size() != 1) return std::nullopt;
  auto doc = api.inspect(list[0].id);
  if (!doc || !(*doc)["State"]["Running"].get<bool>()) return std::nullopt;
  return *doc;
}

}  // namespace

TEST_CASE("pod manager: runs the listed pod, adopts it after an agent restart, restarts it after a crash, removes it when unlisted") {
  if (!Dockerd::available() || !kn::test::busybox_image_available()) FAIL(kNeedPeers);
  Dockerd dockerd({.own_bridge = true});
  const auto image = unreachable_image("busybox");
  kn::test::import_busybox_image(dockerd, image + ":latest");
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);

  Fixture f(dockerd.docker_host());
  const std::string rev = "2026-11-30 10:00:00 UTC";
  f.master.pods = json::array({stress_pod(image, rev)});
  f.start();

  // list after node_info; the pod runs; set_state echoes the rev.
  REQUIRE(f.until([&] { return f.state_sent("running", rev); }));
  CHECK(f.master.params_of("/node_service_pods/list").at(0) == json::array({kNode}));
  auto doc = running_container(*api);
  REQUIRE(doc.has_value());
  const std::string id = (*doc)["Id"];
  CHECK((*doc)["Name"] == "/stress.stress-1");
  CHECK((*doc)["HostConfig"]["CpuShares"] == 100);
  CHECK((*doc)["HostConfig"]["RestartPolicy"]["Name"].get<std::string>() != "always");
  CHECK((*doc)["Config"]["Labels"]["io.kontena.container.deploy_rev"] == rev);
  CHECK((*doc)["Config"]["Labels"]["io.kontena.container.type"] == "container");
  CHECK((*doc)["Config"]["Labels"]["io.kontena.stack.name"] == "stress");
  CHECK(f.master.count("/node_service_pods/event") >= 1);

  // /containers/save and /containers/event for it.
  REQUIRE(f.until([&] {
    for (const auto& p : f.master.params_of("/containers/save")) {
      if (p[0]["node"] == kNode && p[0]["container"]["Id"] == id) return true;
    }
    return false;
  }));
  REQUIRE(f.until([&] {
    for (const auto& p : f.master.params_of("/containers/event")) {
      if (p[0]["id"] == id && p[0]["status"] == "start") return true;
    }
    return false;
  }));

  SECTION("an agent restart adopts the container - same id") {
    f.restart_manager();
    REQUIRE(f.until([&] { return f.master.count("/node_service_pods/list") >= 2; }));
    // Give the workers time to act, then the container must be the same one.
    REQUIRE(f.until([&] {
      int n = 0;
      for (const auto& p : f.master.params_of("/node_service_pods/set_state")) n += p[1]["state"] == "running";
      return n >= 2;
    }));
    auto again = running_container(*api);
    REQUIRE(again.has_value());
    CHECK((*again)["Id"] == id);
  }

  SECTION("kontena service restart restarts the container in place") {
    const std::string started = (*doc)["State"]["StartedAt"];
    bool replied = false;
    f.manager->on_master_call(9, "/service_pods/restart", json::array({"svc1", 1}), [&](Result<json> r) {
      CHECK(r.has_value());
      replied = true;
    });
    CHECK(replied);
    REQUIRE(f.until([&] {
      auto d = running_container(*api);
      return d && (*d)["Id"] == id && (*d)["State"]["StartedAt"] != started;
    }));
  }

  SECTION("a process that exits 0 is restarted too - a new service_revision recreates the container") {
    auto pod = stress_pod(image, rev, json::array({"sh", "-c", "sleep 1; exit 0"}));
    pod["service_revision"] = 2;
    f.master.pods = json::array({pod});
    f.manager->on_master_call(std::nullopt, "/service_pods/notify_update", json::array({"start"}), nullptr);
    std::string new_id, first_start;
    REQUIRE(f.until([&] {
      auto d = running_container(*api);
      if (!d || (*d)["Id"] == id) return false;
      new_id = (*d)["Id"];
      first_start = (*d)["State"]["StartedAt"];
      return true;
    }));
    REQUIRE(f.until([&] {
      auto d = running_container(*api);
      return d && (*d)["Id"] == new_id && (*d)["State"]["StartedAt"] != first_start;
    }));
  }

  SECTION("a killed container is restarted") {
    const std::string started = (*doc)["State"]["StartedAt"];
    REQUIRE(api->stop(id, 0s));
    REQUIRE(f.until([&] {
      auto d = running_container(*api);
      return d && (*d)["Id"] == id && (*d)["State"]["StartedAt"] != started;
    }));
    bool crash_event = false;
    for (const auto& p : f.master.params_of("/node_service_pods/event")) {
      crash_event = crash_event || p[1]["type"] == "service:instance_crash";
    }
    CHECK(crash_event);
  }

  SECTION("an RPC error is not an empty list - an empty list removes the container and its volume") {
    f.master.list_error = true;
    const auto lists = f.master.count("/node_service_pods/list");
    f.notify_update();
    REQUIRE(f.until([&] { return f.master.count("/node_service_pods/list") > lists; }));
    f.io.restart();
    f.io.run_for(500ms);
    CHECK(running_container(*api).has_value());

    const auto volume = (*doc)["Mounts"].at(0)["Name"].get<std::string>();
    f.master.list_error = false;
    f.master.pods = json::array();
    f.notify_update();
    REQUIRE(f.until([&] { return pod_containers(*api).empty(); }));
    // Removed with v=1: the anonymous volume went with it.
    auto volumes = kn::test::run({"/usr/bin/docker", "-H", dockerd.docker_host(), "volume", "ls", "-q"});
    CHECK(volumes.exit_code == 0);
    CHECK(volumes.out.find(volume) == std::string::npos);
    REQUIRE(f.until([&] { return f.manager->worker_count() == 0; }));
    // The master hears the container is gone.
    REQUIRE(f.until([&] {
      for (const auto& p : f.master.params_of("/containers/cleanup")) {
        if (p[0] == kNode && p[1].dump().find(id) != std::string::npos) return true;
      }
      return false;
    }));
  }

  SECTION("a new revision that cannot be created keeps the old container and reports why") {
    auto pod = stress_pod(image, rev);
    pod["service_revision"] = 2;
    pod["env"] = json::array({"BIG=" + std::string(140000, 'x')});  // more than exec accepts: refused
    f.master.pods = json::array({pod});
    f.notify_update();
    REQUIRE(f.until([&] { return f.state_sent("running", rev, "more than the 128 KiB"); }));
    auto d = running_container(*api);
    REQUIRE(d.has_value());
    CHECK((*d)["Id"] == id);
  }

  SECTION("stopped stops and keeps the container") {
    auto pod = stress_pod(image, rev);
    pod["desired_state"] = "stopped";
    f.master.pods = json::array({pod});
    f.notify_update();
    REQUIRE(f.until([&] { return f.state_sent("stopped", rev); }));
    auto list = pod_containers(*api);
    REQUIRE(list.size() == 1);
    CHECK(list[0].id == id);
    CHECK(list[0].state == "exited");
  }
  f.manager->stop();
}

TEST_CASE("pod manager: a missing image is reported with set_state and retried") {
  if (!Dockerd::available() || !kn::test::busybox_image_available()) FAIL(kNeedPeers);
  Dockerd dockerd({.own_bridge = true});
  const auto image = unreachable_image("missing");
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);

  Fixture f(dockerd.docker_host());
  const std::string rev = "2026-11-30 11:00:00 UTC";
  f.master.pods = json::array({stress_pod(image, rev)});
  f.start();
  REQUIRE(f.until([&] { return f.state_sent("missing", rev, "Docker::Error::"); }));
  bool error_event = false;
  for (const auto& p : f.master.params_of("/node_service_pods/event")) {
    error_event = error_event || p[1]["severity"] == 3;
  }
  CHECK(error_event);
  CHECK(pod_containers(*api).empty());

  // The image arrives; the next list runs the pod and clears the error.
  kn::test::import_busybox_image(dockerd, image + ":latest");
  f.notify_update();
  REQUIRE(f.until([&] { return f.state_sent("running", rev); }));
  CHECK(running_container(*api).has_value());
  f.manager->stop();
}

namespace {

// argv of a running process, from /proc/PID/cmdline.
std::vector<std::string> cmdline_of(pid_t pid) {
  const auto text = kn::test::read_text("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  std::string arg;
  for (const char c : text) {
    if (c == '\0') {
      argv.push_back(arg);
      arg.clear();
    } else {
      arg += c;
    }
  }
  return argv;
}

}  // namespace

TEST_CASE("pod manager: after dockerd restarts the pod runs again - the event stream is re-opened") {
  if (!Dockerd::available() || !kn::test::busybox_image_available()) FAIL(kNeedPeers);
  Dockerd dockerd({.own_bridge = true});
  const auto image = unreachable_image("busybox");
  kn::test::import_busybox_image(dockerd, image + ":latest");

  Fixture f(dockerd.docker_host());
  const std::string rev = "2026-11-30 12:00:00 UTC";
  f.master.pods = json::array({stress_pod(image, rev)});
  f.start();
  std::string id;
  REQUIRE(f.until([&] {
    auto api = ContainerApi::connect(dockerd.docker_host());
    if (!api) return false;
    auto d = running_container(*api);
    if (d) id = (*d)["Id"];
    return d.has_value();
  }));

  // Stop this dockerd (its containers stop: no restart policy) and start it again with the
  // same arguments; the fixture's destructor still cleans the directory up.
  const auto argv = cmdline_of(dockerd.pid());
  REQUIRE(::kill(dockerd.pid(), SIGTERM) == 0);
  REQUIRE(f.until([&] { return !std::filesystem::exists(dockerd.pidfile()); }, 30s));
  kn::test::Env env;
  env.unset = {"DOCKER_HOST", "NOTIFY_SOCKET"};
  kn::test::Process again(argv, env, dockerd.dir() / "stdout2", dockerd.dir() / "log2");
  struct StopAgain {
    kn::test::Process& p;
    ~StopAgain() {
      p.signal(SIGTERM);
      (void)p.wait_for(20s);
    }
  } stop_again{again};

  REQUIRE(f.until(
      [&] {
        auto api = ContainerApi::connect(dockerd.docker_host());
        if (!api) return false;
        auto d = running_container(*api);
        return d && (*d)["Id"] == id;
      },
      60s));
  f.manager->stop();
}

namespace {

// Every log line of the code under test, at trace level, for secret checks.
struct LogCapture {
  LogCapture() {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    kn::log::set_sink(sink, spdlog::level::trace);
  }
  ~LogCapture() { kn::log::set_sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(std::clog), spdlog::level::info); }
  std::string text() const { return out.str(); }
  std::ostringstream out;
  spdlog::sink_ptr sink;
};

std::string everything_sent(const RecordingMaster& m) {
  std::string all;
  for (const auto& c : m.calls) all += c.method + c.params.dump();
  for (const auto& c : m.notes) all += c.method + c.params.dump();
  return all;
}

}  // namespace

TEST_CASE("pod manager: pulls with image_credentials from a registry with htpasswd auth - the password is in no log line") {
  if (!Dockerd::available() || !kn::test::busybox_image_available() || !kn::test::Registry::available()) FAIL(kNeedPeers);
  const std::string password = "pod-Pw-90210";
  kn::test::Registry registry({.username = "kn", .password = password});
  Dockerd dockerd({.own_bridge = true});
  const std::string image = registry.address() + "/kn/busybox";
  kn::test::import_busybox_image(dockerd, image + ":latest");
  kn::test::push_image(dockerd, image + ":latest",
                       kn::docker::RegistryAuth{.username = "kn", .password = password, .email = "", .server_address = ""});
  auto removed = kn::test::run({"/usr/bin/docker", "-H", dockerd.docker_host(), "rmi", image + ":latest"});
  REQUIRE(removed.exit_code == 0);

  LogCapture logs;
  Fixture f(dockerd.docker_host());
  const std::string rev = "2026-11-30 12:30:00 UTC";
  auto pod = stress_pod(image, rev);
  pod["image_credentials"] = {{"username", "kn"}, {"password", "wrong-Pw-1"}, {"email", "kn@example.com"}};
  f.master.pods = json::array({pod});
  f.start();
  // A wrong password: reported, and nothing runs.
  REQUIRE(f.until([&] { return f.state_sent("missing", rev, "Docker::Error::"); }));

  pod["image_credentials"]["password"] = password;
  f.master.pods = json::array({pod});
  f.notify_update();
  REQUIRE(f.until([&] { return f.state_sent("running", rev); }));
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  CHECK(running_container(*api).has_value());
  f.manager->stop();

  CHECK(logs.text().find("pull") != std::string::npos);
  CHECK(logs.text().find(password) == std::string::npos);
  CHECK(logs.text().find("wrong-Pw-1") == std::string::npos);
  CHECK(everything_sent(f.master).find(password) == std::string::npos);
}

TEST_CASE("pod manager: volumes_from names a service of the stack and finds its container") {
  if (!Dockerd::available() || !kn::test::busybox_image_available()) FAIL(kNeedPeers);
  Dockerd dockerd({.own_bridge = true});
  const auto image = unreachable_image("busybox");
  kn::test::import_busybox_image(dockerd, image + ":latest");
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);

  Fixture f(dockerd.docker_host());
  const std::string rev = "2026-11-30 11:00:00 UTC";
  json data = stress_pod(image, rev);
  data["id"] = "svc2/1";
  data["service_id"] = "svc2";
  data["service_name"] = "stress.data";
  data["hostname"] = "data-1";
  data["labels"]["io.kontena.service.id"] = "svc2";
  data["volumes"] = json::array({{{"bind_mount", nullptr}, {"path", "/shared"}, {"flags", nullptr}}});
  json app = stress_pod(image, rev);
  app["volumes"] = json::array();
  app["volumes_from"] = json::array({"data-%s:ro"});
  f.master.pods = json::array({data, app});
  f.start();
  // Until data's container exists the name cannot be resolved; each list tries again.
  auto last_notice = std::chrono::steady_clock::now();
  REQUIRE(f.until([&] {
    if (f.state_sent("running", rev)) return true;
    if (std::chrono::steady_clock::now() - last_notice > 500ms) {
      f.notify_update();
      last_notice = std::chrono::steady_clock::now();
    }
    return false;
  }));
  auto doc = running_container(*api);
  REQUIRE(doc.has_value());
  CHECK((*doc)["HostConfig"]["VolumesFrom"] == json::array({"stress.data-1:ro"}));
  bool shared = false;
  for (const auto& m : (*doc)["Mounts"]) shared = shared || m.value("Destination", "") == "/shared";
  CHECK(shared);
  f.manager->stop();
}

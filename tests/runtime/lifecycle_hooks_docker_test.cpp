// Lifecycle hooks through the PodManager against a real dockerd and a recording master port:
// what reaches the master (the oneshot mark before the hook runs, the hooks' output as
// /containers/log_batch lines under the right container id) and what a refused mark does.
#include "docker/container_api.hpp"
#include "runtime/pod_manager.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/process.hpp"
#include "support/registry.hpp"

#include <boost/asio/io_context.hpp>

#include <filesystem>

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using kn::test::Dockerd;
using nlohmann::json;

namespace {

constexpr const char* kNeedPeers = "needs root, /usr/sbin/dockerd and busybox-static: run scripts/install-deps.sh as root";
constexpr const char* kMark = "/node_service_pods/mark_oneshot_hook";
const std::string kNode = "HOOK:NODE:0001";

// Answers list with `pods`, mark_oneshot_hook with {} (or an error when `refuse_marks`) and
// notes, at the moment of each mark, whether the hook's marker file already existed.
struct RecordingMaster : MasterPort {
  json pods = json::array();
  bool refuse_marks = false;
  std::filesystem::path marker;
  std::vector<json> marks;
  std::vector<bool> marker_existed_at_mark;
  std::vector<json> set_states, events;
  std::vector<json> log_lines;

  void call(std::string method, json params, std::function<void(Result<json>)> done) override {
    if (method == "/node_service_pods/list") return done(json{{"service_pods", pods}});
    if (method == "/node_service_pods/set_state") set_states.push_back(params[1]);
    if (method == kMark) {
      marks.push_back(params);
      marker_existed_at_mark.push_back(std::filesystem::exists(marker));
      if (refuse_marks) return done(fail(Errc::master_rpc_error, "failed to call the master: RuntimeError: Hook not found"));
    }
    done(json::object());
  }
  void notify(std::string method, json params) override {
    if (method == "/node_service_pods/event") events.push_back(params[1]);
    if (method == "/containers/log_batch") {
      REQUIRE(params[0].size() <= 10);
      for (const auto& line : params[0]) log_lines.push_back(line);
    }
  }
  const json* line(const std::string& data) const {
    for (const auto& l : log_lines) {
      if (l["data"] == data) return &l;
    }
    return nullptr;
  }
};

json hooked_pod(const std::string& image, const std::filesystem::path& data, json hooks) {
  return json{{"id", "svc1/1"},
              {"desired_state", "running"},
              {"service_id", "svc1"},
              {"service_name", "app.web"},
              {"service_revision", 1},
              {"instance_number", 1},
              {"deploy_rev", "2026-11-30 10:00:00 UTC"},
              {"image_name", image},
              {"cmd", json::array({"sleep", "3600"})},
              {"stop_grace_period", 1},
              {"volumes", json::array({{{"bind_mount", data.string()}, {"path", "/data"}, {"flags", nullptr}}})},
              {"labels",
               {{"io.kontena.service.id", "svc1"}, {"io.kontena.service.name", "web"}, {"io.kontena.stack.name", "app"}}},
              {"hooks", std::move(hooks)}};
}

struct Fixture {
  boost::asio::io_context io;
  RecordingMaster master;
  std::unique_ptr<PodManager> manager;

  void start(const std::string& host) {
    manager = std::make_unique<PodManager>(io.get_executor(), host, kNode, master, PodManagerOptions{});
    manager->start();
    manager->on_node_info();
  }
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
  ~Fixture() {
    if (manager) manager->stop();
  }
};

std::string image_for(const Dockerd& dockerd) {
  // A loopback port nobody listens on: the pull fails at once and the local copy is used.
  const auto image = "127.0.0.1:" + std::to_string(kn::test::free_loopback_port()) + "/kn/hooks:1";
  kn::test::import_busybox_image(dockerd, image);
  return image;
}

void remove_all(const Dockerd& dockerd) {
  auto api = docker::ContainerApi::connect(dockerd.docker_host());
  if (!api) return;
  if (auto all = api->list({"io.kontena.service.id"})) {
    for (const auto& c : *all) api->remove(c.id, true, true);
  }
}

}  // namespace

TEST_CASE("lifecycle hooks: the oneshot is marked before it runs and the hooks' output reaches the log stream") {
  if (!Dockerd::available() || !kn::test::busybox_image_available()) FAIL(kNeedPeers);
  Dockerd dockerd({.own_bridge = true});
  const auto image = image_for(dockerd);
  kn::test::TempDir data;
  Fixture f;
  f.master.marker = data / "marker";
  f.master.pods = json::array({hooked_pod(
      image, data.path(),
      json::array({{{"id", "h1"}, {"type", "pre_start"}, {"cmd", "echo > /data/marker; echo pre-out; echo pre-err >&2"},
                    {"oneshot", true}},
                   {{"id", "h2"}, {"type", "post_start"}, {"cmd", "echo post-out"}, {"oneshot", false}}}))});
  f.start(dockerd.docker_host());
  auto api = docker::ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);

  const bool running = f.until([&] {
    return !f.master.set_states.empty() && f.master.set_states.back()["state"] == "running";
  });
  INFO("events: " << json(f.master.events).dump() << "\nlog lines: " << json(f.master.log_lines).dump());
  REQUIRE(running);
  // The mark went out first, for this instance and this hook; only then did the hook run.
  REQUIRE(f.master.marks.size() == 1);
  CHECK(f.master.marks[0][0] == kNode);
  CHECK(f.master.marks[0][1] == json{{"service_id", "svc1"}, {"instance_number", 1}});
  CHECK(f.master.marks[0][2]["id"] == "h1");
  CHECK(f.master.marker_existed_at_mark == std::vector<bool>{false});
  CHECK(std::filesystem::exists(data / "marker"));

  // Output lines: pre_start's under the hook container (there was no old one), post_start's
  // under the service container; stdout and stderr kept apart.
  auto list = api->list({"io.kontena.service.id=svc1", "io.kontena.container.type=container"});
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  const std::string service_container = list->front().id;
  REQUIRE(f.until([&] { return f.master.line("post-out") != nullptr; }, 10s));
  const json* pre_out = f.master.line("pre-out");
  const json* pre_err = f.master.line("pre-err");
  REQUIRE(pre_out);
  REQUIRE(pre_err);
  CHECK((*pre_out)["type"] == "stdout");
  CHECK((*pre_err)["type"] == "stderr");
  CHECK((*pre_out)["id"] != service_container);
  CHECK((*pre_out)["service"] == "web");
  CHECK((*pre_out)["stack"] == "app");
  CHECK((*pre_out)["instance"] == 1);
  CHECK((*f.master.line("post-out"))["id"] == service_container);
  CHECK(f.master.line("running post_start hook: echo post-out") != nullptr);
  remove_all(dockerd);
}

TEST_CASE("lifecycle hooks: a oneshot pre_start the master refuses to mark does not run and the start waits") {
  if (!Dockerd::available() || !kn::test::busybox_image_available()) FAIL(kNeedPeers);
  Dockerd dockerd({.own_bridge = true});
  const auto image = image_for(dockerd);
  kn::test::TempDir data;
  Fixture f;
  f.master.refuse_marks = true;
  f.master.marker = data / "marker";
  f.master.pods = json::array({hooked_pod(
      image, data.path(),
      json::array({{{"id", "h1"}, {"type", "pre_start"}, {"cmd", "echo > /data/marker"}, {"oneshot", true}}}))});
  f.start(dockerd.docker_host());

  REQUIRE(f.until([&] { return !f.master.set_states.empty(); }));
  const auto& s = f.master.set_states.back();
  INFO(s.dump());
  CHECK(s["state"] == "missing");
  CHECK_THAT(s["error"].get<std::string>(), Catch::Contains("failed to mark the oneshot pre_start hook") &&
                                                Catch::Contains("Hook not found"));
  CHECK_FALSE(std::filesystem::exists(data / "marker"));
  auto api = docker::ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  auto list = api->list({"io.kontena.service.id=svc1"});
  REQUIRE(list);
  CHECK(list->empty());  // neither the service container nor a hook container
  remove_all(dockerd);
}

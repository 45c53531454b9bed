// follow_events against a real dockerd: what the runtime sees of a container's life, and
// what happens when the caller stops or dockerd dies.
#include "docker/event_stream.hpp"
#include "docker/container_api.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"

#include <csignal>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using kn::Errc;
using kn::docker::ContainerApi;
using kn::test::Dockerd;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNeedPeers =
    "needs root, /usr/sbin/dockerd and busybox-static: run scripts/install-deps.sh as root";

struct Recorder {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> events;  // (Action, id)
  void add(const nlohmann::json& e) {
    std::lock_guard lock(mutex);
    events.emplace_back(e.value("Action", ""), e.value("id", ""));
  }
  std::vector<std::string> actions_of(const std::string& id) {
    std::lock_guard lock(mutex);
    std::vector<std::string> out;
    for (const auto& [action, who] : events) {
      if (who == id) out.push_back(action);
    }
    return out;
  }
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

TEST_CASE("follow_events sees a container created, started, dying and destroyed, and returns on stop") {
  if (!Dockerd::available() || !kn::test::busybox_image_available()) FAIL(kNeedPeers);
  Dockerd dockerd;
  kn::test::import_busybox_image(dockerd, "kn-test/busybox:1");
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);

  Recorder recorder;
  kn::http::StreamInterrupt stop;
  auto follower = std::async(std::launch::async, [&] {
    return kn::docker::follow_events(
        dockerd.docker_host(), {{"type", {"container"}}}, [&](const nlohmann::json& e) { recorder.add(e); }, stop);
  });
  // The stream only shows what happens after it is open: a probe container marks that point.
  std::string probe;
  REQUIRE(eventually([&] {
    if (auto id = api->create("", {{"Image", "kn-test/busybox:1"}, {"Cmd", {"true"}}}); id) {
      probe = *id;
      (void)api->remove(probe, true, true);
    }
    return eventually([&] { return !recorder.actions_of(probe).empty(); }, 300ms);
  }));

  auto id = api->create("kn-events", {{"Image", "kn-test/busybox:1"}, {"Cmd", {"true"}}});
  REQUIRE(id);
  REQUIRE(api->start(*id));
  REQUIRE(api->wait(*id, 20s));
  REQUIRE(api->remove(*id, true, false));
  const std::vector<std::string> expected{"create", "start", "die", "destroy"};
  CHECK(eventually([&] {
    auto seen = recorder.actions_of(*id);
    std::erase_if(
        seen, [&](const std::string& a) { return std::find(expected.begin(), expected.end(), a) == expected.end(); });
    return seen == expected;
  }));
  INFO("events of the container: " << nlohmann::json(recorder.actions_of(*id)).dump());
  CHECK(recorder.actions_of(*id).size() >= 4);

  stop.interrupt();
  REQUIRE(follower.wait_for(5s) == std::future_status::ready);
  CHECK(follower.get());
}

TEST_CASE("follow_events returns docker_unavailable when dockerd dies") {
  if (!Dockerd::available()) FAIL(kNeedPeers);
  Dockerd dockerd;
  kn::http::StreamInterrupt stop;
  std::atomic<int> events{0};
  auto follower = std::async(std::launch::async, [&] {
    return kn::docker::follow_events(
        dockerd.docker_host(), {{"type", {"container"}}}, [&](const nlohmann::json&) { ++events; }, stop);
  });
  // Give the stream a moment to open, then kill dockerd (no containers run, so nothing is left).
  CHECK(follower.wait_for(300ms) == std::future_status::timeout);
  ::kill(dockerd.pid(), SIGKILL);
  REQUIRE(follower.wait_for(10s) == std::future_status::ready);
  auto result = follower.get();
  REQUIRE_FALSE(result);
  CHECK(result.error().is(Errc::docker_unavailable));
  CHECK(result.error().message.find(dockerd.socket().string()) != std::string::npos);
}

// The LogStreamer against a real dockerd and a recording master port: a container with a TTY
// (no stream headers, CRLF line ends), nothing sent while offline, and a batch the link
// dropped sent again once online.
#include "docker/container_api.hpp"
#include "runtime/log_cursor.hpp"
#include "runtime/log_line.hpp"
#include "runtime/log_streamer.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/process.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <mutex>
#include <thread>

using namespace kn::runtime;
using namespace std::chrono_literals;
using kn::test::Dockerd;
using nlohmann::json;

namespace {

// Records what the streamer sends; while `drop` is set every notification is dropped.
struct RecordingPort : MasterPort {
  std::mutex mutex;
  std::vector<json> lines;
  int batches = 0;
  int dropped = 0;
  bool drop = false;

  void call(std::string, json, std::function<void(kn::Result<json>)> done) override {
    done(kn::fail(kn::Errc::master_unavailable, "not a master"));
  }
  void notify(std::string, json) override {}
  void notify_written(std::string method, json params, std::function<void(bool)> done) override {
    bool written = false;
    {
      std::lock_guard lock(mutex);
      if (method == kLogBatch && !drop) {
        ++batches;
        for (auto& l : params[0]) lines.push_back(l);
        written = true;
      } else {
        ++dropped;
      }
    }
    done(written);
  }
  std::vector<json> snapshot() {
    std::lock_guard lock(mutex);
    return lines;
  }
};

// An io_context on its own thread: the runtime's loop.
struct Loop {
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread{[this] { ioc.run(); }};
  ~Loop() {
    work.reset();
    ioc.stop();
    thread.join();
  }
  template <class F>
  void run(F f) {  // runs f on the loop and waits for it
    std::promise<void> done;
    boost::asio::post(ioc, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
};

}  // namespace

TEST_CASE("log streamer: a TTY container's lines reach the master once online - a dropped batch is sent again",
          "[logs][docker]") {
  REQUIRE(Dockerd::available());
  REQUIRE(kn::test::busybox_image_available());
  Dockerd dockerd;
  kn::test::import_busybox_image(dockerd, "kn/busybox:1");
  auto api = kn::docker::ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  const json body = {
      {"Image", "kn/busybox:1"},
      {"Cmd", {"sh", "-c", "echo one; echo two; echo three; exec sleep 3600"}},
      {"Tty", true},
      {"Labels", {{"io.kontena.service.name", "web"}, {"io.kontena.stack.name", "shop"}}},
      {"HostConfig", {{"NetworkMode", "none"}}}};
  auto id = api->create("shop.web-2", body);
  REQUIRE(id);
  REQUIRE(api->start(*id));
  auto inspect = api->inspect(*id);
  REQUIRE(inspect);

  kn::test::TempDir state;
  RecordingPort port;
  Loop loop;
  RuntimeContext context;
  context.loop = loop.ioc.get_executor();
  context.docker_host = dockerd.docker_host();
  context.master = &port;
  context.state_dir = state.path();
  auto streamer = std::make_shared<LogStreamer>(context);
  {
    std::lock_guard lock(port.mutex);
    port.drop = true;  // the first batch is dropped by the link
  }
  loop.run([&] {
    streamer->on_online();
    streamer->on_container_running(ServiceContainer{*id, "shop.web-2", "svc", 2, *inspect});
  });
  REQUIRE(kn::test::wait_until([&] {
    std::lock_guard lock(port.mutex);
    return port.dropped > 0;
  }));
  // Offline: the follower waits; nothing is sent and the cursor is not written.
  loop.run([&] { streamer->on_offline(); });
  {
    std::lock_guard lock(port.mutex);
    port.drop = false;
  }
  std::this_thread::sleep_for(100ms);
  CHECK(port.snapshot().empty());
  CHECK_FALSE(std::filesystem::exists(cursor_path(state.path(), *id)));

  loop.run([&] { streamer->on_online(); });
  REQUIRE(kn::test::wait_until([&] { return port.snapshot().size() >= 3; }));
  const auto lines = port.snapshot();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["data"] == "one");  // no "\r" from the TTY, no stream header bytes
  CHECK(lines[1]["data"] == "two");
  CHECK(lines[2]["data"] == "three");
  for (const auto& l : lines) {
    CHECK(l["id"] == *id);
    CHECK(l["service"] == "web");
    CHECK(l["stack"] == "shop");
    CHECK(l["instance"] == 2);
    CHECK(l["type"] == "stdout");
    CHECK(l["time"].get<std::string>().size() == std::string("2018-08-10T12:34:56.123456789Z").size());
  }
  // The cursor follows the written lines; after stop() it is on disk.
  loop.run([&] { streamer->stop(); });
  auto cursor = load_cursor(cursor_path(state.path(), *id));
  REQUIRE(cursor);
  REQUIRE(cursor->time);
  CHECK(rfc3339_nanos(*cursor->time) == lines[2]["time"].get<std::string>());

  // A new streamer (an agent restart) sends nothing twice; the container's removal takes the cursor.
  auto again = std::make_shared<LogStreamer>(context);
  loop.run([&] {
    again->on_online();
    again->on_container_running(ServiceContainer{*id, "shop.web-2", "svc", 2, *inspect});
  });
  REQUIRE(api->remove(*id, true, true));
  loop.run([&] { again->on_container_stopped(*id); });
  CHECK(kn::test::wait_until([&] { return !std::filesystem::exists(cursor_path(state.path(), *id)); }));
  CHECK(port.snapshot().size() == 3);
  loop.run([&] { again->stop(); });
}

// ExecSessions against a real dockerd (busybox imported offline) and a recording MasterPort:
// the start timeout, bounded output chunks, and stop() ending the sessions under way.
#include "docker/container_api.hpp"
#include "runtime/exec_sessions.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"

#include <boost/asio/io_context.hpp>

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kImage = "kn-exec-test/busybox:1";

struct Note {
  std::string method;
  json params;
};

struct RecordingMaster : MasterPort {
  std::vector<Note> notes;
  void call(std::string, json, std::function<void(Result<json>)> done) override { done(json::object()); }
  void notify(std::string method, json params) override { notes.push_back({std::move(method), std::move(params)}); }
  std::vector<json> of(const std::string& method) const {
    std::vector<json> out;
    for (const auto& n : notes) {
      if (n.method == method) out.push_back(n.params);
    }
    return out;
  }
};

struct Fixture {
  kn::test::Dockerd dockerd;
  docker::ContainerApi api;
  std::string container;
  boost::asio::io_context io;
  RecordingMaster master;
  std::shared_ptr<ExecSessions> exec;

  explicit Fixture(ExecSessionsOptions options)
      : api(docker::ContainerApi::connect(dockerd.docker_host()).value()) {
    kn::test::import_busybox_image(dockerd, kImage);
    // Any container will do: exec is not limited to service containers (as in the Ruby agent).
    container = api.create("exec-target", json{{"Image", kImage}, {"Cmd", {"sleep", "3600"}},
                                               {"HostConfig", {{"NetworkMode", "none"}}}})
                    .value();
    REQUIRE(api.start(container));
    RuntimeContext ctx;
    ctx.loop = io.get_executor();
    ctx.docker_host = dockerd.docker_host();
    ctx.master = &master;
    exec = std::make_shared<ExecSessions>(ctx, options);
  }
  ~Fixture() {
    exec->stop();
    (void)api.remove(container, true, true);
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

  std::string create() {
    std::optional<Result<json>> reply;
    exec->on_master_call(1, "/containers/create_exec", json::array({container}), [&](Result<json> r) { reply = r; });
    REQUIRE(until([&] { return reply.has_value(); }));
    REQUIRE(reply->has_value());
    return (**reply)["id"].get<std::string>();
  }
  void call(const std::string& method, json params) {
    exec->on_master_call(std::nullopt, method, params, nullptr);
  }
  std::optional<json> last(const std::string& session, const std::string& method) const {
    for (const auto& p : master.of(method)) {
      if (p[0] == session) return p;
    }
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("exec sessions: a session never run ends after the start timeout", "[exec][docker]") {
  REQUIRE_DOCKERD();
  REQUIRE(kn::test::busybox_image_available());
  Fixture f(ExecSessionsOptions{.start_timeout = 300ms});
  const auto id = f.create();
  CHECK(f.exec->session_count() == 1);
  REQUIRE(f.until([&] { return f.last(id, "/container_exec/error").has_value(); }, 5s));
  CHECK_THAT((*f.last(id, "/container_exec/error"))[1].get<std::string>(),
             Catch::Contains("no /containers/run_exec within 300 ms"));
  CHECK(f.exec->session_count() == 0);
  // A missing container is refused at create_exec, with 404 (the master tells that case apart).
  std::optional<Result<json>> reply;
  f.exec->on_master_call(2, "/containers/create_exec", json::array({"no-such"}), [&](Result<json> r) { reply = r; });
  REQUIRE(f.until([&] { return reply.has_value(); }));
  REQUIRE_FALSE(reply->has_value());
  CHECK(reply->error().is(Errc::docker_not_found));
}

TEST_CASE("exec sessions: output arrives whole and in order, in chunks of at most max_chunk bytes", "[exec][docker]") {
  REQUIRE_DOCKERD();
  REQUIRE(kn::test::busybox_image_available());
  Fixture f(ExecSessionsOptions{.max_chunk = 1024});
  const auto id = f.create();
  f.call("/containers/run_exec", json::array({id, {"busybox", "seq", "1", "20000"}, false, false}));
  REQUIRE(f.until([&] { return f.last(id, "/container_exec/exit").has_value(); }));
  CHECK((*f.last(id, "/container_exec/exit"))[1] == 0);
  std::string expected;
  for (int i = 1; i <= 20000; ++i) expected += std::to_string(i) + "\n";
  std::string got;
  std::size_t biggest = 0;
  for (const auto& p : f.master.of("/container_exec/output")) {
    CHECK(p[1] == "stdout");
    got += p[2].get<std::string>();
    biggest = std::max(biggest, p[2].get<std::string>().size());
  }
  CHECK(got == expected);
  CHECK(biggest <= 1024);
  CHECK(f.exec->session_count() == 0);
}

TEST_CASE("exec sessions: stop() ends the sessions under way and nothing is sent after it", "[exec][docker]") {
  REQUIRE_DOCKERD();
  REQUIRE(kn::test::busybox_image_available());
  Fixture f(ExecSessionsOptions{});
  const auto id = f.create();
  f.call("/containers/run_exec", json::array({id, {"sh"}, true, true}));
  f.call("/containers/tty_input", json::array({id, "echo up-$((20+1))\n"}));
  REQUIRE(f.until([&] {
    for (const auto& p : f.master.of("/container_exec/output")) {
      if (p[2].get<std::string>().find("up-21") != std::string::npos) return true;
    }
    return false;
  }));
  f.exec->stop();
  const auto notes = f.master.notes.size();
  f.until([] { return false; }, 300ms);
  CHECK(f.master.notes.size() == notes);
  CHECK(f.exec->session_count() == 0);
  // The shell lost its terminal with the connection and is gone from the container.
  auto top = kn::test::run({"/usr/bin/docker", "-H", f.dockerd.docker_host(), "top", f.container});
  INFO(top.out);
  CHECK(f.until([&] {
    top = kn::test::run({"/usr/bin/docker", "-H", f.dockerd.docker_host(), "top", f.container});
    return top.out.find(" sh") == std::string::npos;
  }, 5s));
}

// `kontena container exec` and `kontena container inspect` end to end: the master simulator
// drives exec sessions (create_exec, run_exec, tty_input, tty_resize) and one-shot execs on a
// real `kontena-agent run`, which runs them in a service container of a private dockerd.
#include "docker/container_api.hpp"
#include "support/busybox_image.hpp"
#include "support/dockerd.hpp"
#include "support/agent_process.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>

#include <csignal>

using namespace std::chrono_literals;
using json = nlohmann::json;
using kn::test::Dockerd;
using kn::test::MasterSim;
using kn::test::wait_until;

namespace {

// The image name points at a closed loopback port: the pull fails at once and the agent runs
// the copy imported into the node's engine.
constexpr const char* kImage = "127.0.0.1:9/kn/busybox:exec";

using Agent = kn::test::AgentProcess;

json shell_stack() {
  return {{"name", "shell"},
          {"services",
           {{{"name", "shell"},
             {"image", kImage},
             {"cmd", json::array({"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"})},
             {"strategy", "daemon"},
             {"affinity", {"label==ephemeral=true"}}}}}};
}

// Waits until the session's read-out satisfies `condition`; returns the last read-out.
json wait_session(const MasterSim& master, const std::string& id, const std::function<bool(const json&)>& condition,
                  std::chrono::milliseconds timeout = 15s) {
  json s;
  wait_until([&] {
    s = master.exec_session(id);
    return condition(s);
  }, timeout);
  return s;
}

// Processes of the container whose command is exactly `cmd` (docker top's last column).
int processes_named(const Dockerd& dockerd, const std::string& container, const std::string& cmd) {
  auto top = kn::test::run({"/usr/bin/docker", "-H", dockerd.docker_host(), "top", container});
  int n = 0;
  std::size_t start = 0;
  while (start < top.out.size()) {
    auto end = top.out.find('\n', start);
    if (end == std::string::npos) end = top.out.size();
    const std::string line = top.out.substr(start, end - start);
    if (line.size() > cmd.size() && line.compare(line.size() - cmd.size() - 1, cmd.size() + 1, " " + cmd) == 0) ++n;
    start = end + 1;
  }
  return n;
}

bool output_has(const json& s, const std::string& text) {
  return s.value("output", "").find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("exec: sessions with and without a TTY, resize, exit codes, one-shot exec and inspect", "[runtime][e2e]") {
  REQUIRE_DOCKERD();
  REQUIRE(kn::test::busybox_image_available());
  kn::test::DockerdOptions docker_options;
  docker_options.own_bridge = true;
  Dockerd dockerd(docker_options);
  kn::test::import_busybox_image(dockerd, kImage);

  MasterSim master;
  master.configure({{"scheduler_interval_ms", 300}, {"deploy_poll_ms", 100}});
  Agent agent(master, &dockerd);
  REQUIRE(master.wait_for_status("node-1", "online", 20s));
  master.create_stack(shell_stack());
  json service;
  REQUIRE(wait_until([&] {
    service = master.service("shell", "shell");
    return service.is_object() && service["instances"].size() == 1 &&
           service["instances"][0].value("state", "") == "running" &&
           !service["instances"][0]["containers"].empty();
  }, 60s));
  const std::string id = service["instances"][0]["containers"][0].value("id", "");
  INFO("agent log:\n" << agent.log() << "\nsimulator log:\n" << master.log());
  REQUIRE_FALSE(id.empty());

  // `kontena container exec -it shell.shell-1 sh`: a shell on a TTY.
  const std::string tty = master.exec_start(id, {"sh"}, true, true);
  master.exec_input(tty, "echo hello-$((1+2))\n");
  auto s = wait_session(master, tty, [](const json& r) { return output_has(r, "hello-3"); });
  CHECK(output_has(s, "hello-3"));
  for (const auto& chunk : s["chunks"]) CHECK(chunk["stream"] == "stdout");  // a TTY has one stream

  master.exec_resize(tty, 111, 33);
  // The resize reaches the TTY before the next command reads its size.
  CHECK(wait_until([&] {
    master.exec_input(tty, "busybox stty size\n");
    return output_has(wait_session(master, tty, [](const json& r) { return output_has(r, "33 111"); }, 1s),
                      "33 111");
  }, 10s));

  // A second session at the same time, without a TTY: stdout and stderr apart, stdin to EOF.
  const std::string plain = master.exec_start(
      id, {"sh", "-c", "echo b-out; echo b-err >&2; read line; echo b-$line; cat; exit 5"}, false, true);
  s = wait_session(master, plain, [](const json& r) {
    return r.value("stdout", "").find("b-out") != std::string::npos &&
           r.value("stderr", "").find("b-err") != std::string::npos;
  });
  CHECK(s.value("stdout", "") == "b-out\n");
  CHECK(s.value("stderr", "") == "b-err\n");
  master.exec_input(plain, "two\nrest\n");
  master.exec_input(tty, "echo still-$((2*2))\n");  // the first session still answers meanwhile
  CHECK(output_has(wait_session(master, tty, [](const json& r) { return output_has(r, "still-4"); }), "still-4"));
  CHECK_FALSE(master.exec_session(plain).value("ended", true));  // `cat` waits for the end of stdin
  master.exec_input(plain, nullptr);                              // stdin closed: cat ends, then exit 5
  s = wait_session(master, plain, [](const json& r) { return r.value("ended", false); });
  CHECK(s.value("stdout", "") == "b-out\nb-two\nrest\n");
  CHECK(s["exit"] == 5);

  master.exec_input(tty, "exit 7\n");
  s = wait_session(master, tty, [](const json& r) { return r.value("ended", false); });
  CHECK(s["exit"] == 7);
  CHECK(s["error"].is_null());

  // `kontena container exec shell.shell-1 -- sh -c ...` without -i: one request, output collected.
  const std::string route = "/v1/containers/" + master.grid() + "/node-1/shell.shell-1";
  auto oneshot = master.rest("POST", route + "/exec", {{"cmd", {"sh", "-c", "echo out; echo err >&2; exit 3"}}});
  CHECK(oneshot.status == 200);
  CHECK(oneshot.body == json::array({json::array({"out\n"}), json::array({"err\n"}), 3}));

  // `kontena container inspect`: the engine's document; a container the engine lacks is a 404.
  auto inspected = master.rest("GET", route + "/inspect");
  CHECK(inspected.status == 200);
  CHECK(inspected.body.value("Id", "") == id);
  CHECK(inspected.body.value("Name", "") == "/shell.shell-1");
  auto missing = master.request("node-1", "/containers/inspect", json::array({"no-such-container"}));
  CHECK(missing["error"].value("code", 0) == 404);

  // What was typed into the sessions is not in the agent's log.
  CHECK(agent.log().find("still-$((2*2))") == std::string::npos);
  CHECK(agent.log().find("b-out") == std::string::npos);

  SECTION("a session ends when its container stops") {
    const std::string doomed = master.exec_start(id, {"sh"}, true, true);
    master.exec_input(doomed, "echo up-$((3+3))\n");
    REQUIRE(output_has(wait_session(master, doomed, [](const json& r) { return output_has(r, "up-6"); }), "up-6"));
    REQUIRE(kn::test::run({"/usr/bin/docker", "-H", dockerd.docker_host(), "stop", "-t", "1", id}).exit_code == 0);
    s = wait_session(master, doomed, [](const json& r) { return r.value("ended", false); });
    // The container's init ended, so the kernel killed the shell: the engine reports SIGKILL.
    INFO("session after the container stopped: " << s.dump());
    CHECK(s.value("ended", false));
    CHECK(s["exit"] == 137);
  }

  SECTION("terminate_exec ends a session; a session never run is dropped with the agent") {
    const std::string ended = master.exec_start(id, {"sh"}, true, true);
    master.exec_input(ended, "echo t-$((4+4))\n");
    REQUIRE(output_has(wait_session(master, ended, [](const json& r) { return output_has(r, "t-8"); }), "t-8"));
    REQUIRE(processes_named(dockerd, id, "sh") == 1);
    master.exec_terminate(ended);
    // Its shell is hung up, as by a closed terminal (Docker itself would leave it waiting).
    CHECK(wait_until([&] { return processes_named(dockerd, id, "sh") == 0; }, 10s));
    // The session is gone on the agent: its input is refused there.
    CHECK(wait_until([&] {
      master.exec_input(ended, "echo more\n");
      return agent.log().find("no exec session " + ended) != std::string::npos;
    }, 10s));
    master.exec_start(id, {}, false, false);  // created, never run
    agent.process->signal(SIGTERM);
    CHECK(agent.process->wait_for(15s) == std::optional<int>(0));
  }
}

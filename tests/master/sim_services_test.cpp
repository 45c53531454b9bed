// The master simulator's service side (tests/master_sim/services.hpp, deployer.hpp,
// service_rpc.hpp, service_rest.hpp), driven the way an agent drives a Kontena 1.5.4 master:
// a raw WebSocket + MessagePack client (sim_agent.hpp) answers /service_pods/notify_update,
// lists its pods, reports containers and set_state; the REST read-out is checked like
// `kontena service show`. Timings are shortened through /v1/_sim/config.
#include "sim_agent.hpp"

#include <regex>
#include <set>

using namespace sim_agent;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kIdA = "EPHM:AAAA:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001";
const std::string kIdB = "PLAN:BBBB:0000:0000:0000:0000:0000:0000:0000:0000:0000:0002";
const std::string kIdC = "EPHM:CCCC:0000:0000:0000:0000:0000:0000:0000:0000:0000:0003";

// The stack of the issue: examples/stress.
Json stress_stack() {
  return {{"name", "stress"},
          {"services",
           {{{"name", "stress"},
             {"image", "progrium/stress"},
             {"cmd", "-q --cpu 1 --vm 1 --vm-bytes 128M --timeout 30m"},
             {"strategy", "daemon"},
             {"instances", 1},
             {"affinity", {"label==ephemeral=true"}},
             {"cpu_shares", 100}}}}};
}

Headers node_headers(const MasterSim& sim, const std::string& name, const std::string& id, const std::string& labels) {
  auto h = agent_headers(sim, name, id);
  h["Kontena-Node-Labels"] = labels;
  return h;
}

void fast(const MasterSim& sim) {
  sim.configure({{"scheduler_interval_ms", 200},
                 {"deploy_poll_ms", 20},
                 {"notify_timeout_ms", 2000},
                 {"deploy_timeout_ms", 5000}});
}

Json show(const MasterSim& sim) {
  auto service = sim.service("stress", "stress");
  REQUIRE_FALSE(service.is_null());
  return service;
}

std::uint32_t next_id() {
  static std::uint32_t id = 100;
  return ++id;
}

// Answers the master's notify_update request with {} and lists the node's pods.
Json take_update(Agent& agent, const std::string& node_id) {
  auto req = agent.request();
  CHECK(req.method == "/service_pods/notify_update");
  CHECK(req.params == Json::array({Json::array()}));
  agent.send(kn::rpc::Response{req.id, nullptr, Json::object()});
  const auto id = next_id();
  agent.send(kn::rpc::Request{id, "/node_service_pods/list", Json::array({node_id})});
  auto res = agent.response(id);
  REQUIRE(res.error.is_null());
  return res.result["service_pods"];
}

Json set_state(Agent& agent, const std::string& node_id, const Json& pod, const std::string& state,
               const Json& error = nullptr) {
  const auto id = next_id();
  agent.send(kn::rpc::Request{id, "/node_service_pods/set_state",
                              Json::array({node_id,
                                           {{"service_id", pod["service_id"]},
                                            {"instance_number", pod["instance_number"]},
                                            {"rev", pod["deploy_rev"]},
                                            {"state", state},
                                            {"error", error}}})});
  auto res = agent.response(id);
  return res.error.is_null() ? res.result : res.error;
}

Json docker_inspect(const std::string& id, const Json& pod, bool running) {
  return {{"Id", id},
          {"Name", "/" + pod["service_name"].get<std::string>() + "-1"},
          {"Driver", "overlay2"},
          {"Image", "sha256:0123"},
          {"Config",
           {{"Image", pod["image_name"]},
            {"Cmd", pod["cmd"]},
            {"Env", pod["env"]},
            {"Hostname", pod["hostname"]},
            {"Domainname", pod["domainname"]},
            {"Labels",
             {{"io.kontena.service.id", pod["service_id"]},
              {"io.kontena.service.name", "stress"},
              {"io.kontena.service.instance_number", "1"},
              {"io.kontena.container.name", "stress.stress-1"},
              {"io.kontena.container.type", "container"},
              {"io.kontena.container.deploy_rev", pod["deploy_rev"]},
              {"io.kontena.container.service_revision", "1"}}}}},
          {"State", {{"Running", running}, {"ExitCode", 0}, {"Error", ""}}}};
}

void save(Agent& agent, const std::string& node_id, const Json& container) {
  const auto id = next_id();
  agent.send(kn::rpc::Request{id, "/containers/save", Json::array({{{"node", node_id}, {"container", container}}})});
  auto res = agent.response(id);
  CHECK(res.error.is_null());
  CHECK(res.result == Json::object());
}

bool deploy_finished(const Json& service, std::size_t n, const std::string& state) {
  const auto& d = service["deploys"];
  return d.size() >= n && d[n - 1]["state"] == state;
}

}  // namespace

TEST_CASE("services: the stress stack runs on the ephemeral node only, with the pod Kontena serializes",
          "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  Agent eph(sim, node_headers(sim, "eph", kIdA, "ephemeral=true,az=a"));
  join(eph);
  Agent plain(sim, node_headers(sim, "plain", kIdB, "az=b"));
  join(plain);

  const auto created = sim.create_stack(stress_stack());
  CHECK(created["id"] == "test/stress");
  CHECK(created["deploys"].size() == 1);

  const auto pods = take_update(eph, kIdA);
  REQUIRE(pods.size() == 1);
  const Json pod = pods[0];
  // Every key of service_pod_serializer.rb, with its default where the stack sets none.
  for (const char* key :
       {"id", "desired_state", "service_id", "service_name", "service_revision", "updated_at", "instance_number",
        "image_name", "image_credentials", "deploy_rev", "stateful", "user", "cmd", "entrypoint", "memory",
        "memory_swap", "shm_size", "cpu_shares", "cpus", "privileged", "cap_add", "cap_drop", "devices", "ports",
        "volumes", "volumes_from", "net", "hostname", "domainname", "exposed", "log_driver", "log_opts", "pid",
        "wait_for_port", "stop_signal", "stop_grace_period", "env", "secrets", "labels", "hooks", "networks",
        "read_only"}) {
    INFO(key);
    CHECK(pod.contains(key));
  }
  CHECK(pod.size() == 42);
  const std::string sid = pod["service_id"];
  CHECK(std::regex_match(sid, std::regex("^[0-9a-f]{24}$")));
  CHECK(pod["id"] == sid + "/1");
  CHECK(pod["desired_state"] == "running");
  CHECK(pod["service_name"] == "stress.stress");
  CHECK(pod["service_revision"] == 1);
  CHECK(pod["instance_number"] == 1);
  CHECK(pod["image_name"] == "progrium/stress");  // verbatim, no tag added
  CHECK(pod["image_credentials"].is_null());
  CHECK(pod["cpu_shares"] == 100);
  CHECK(pod["cmd"] == Json::array({"-q", "--cpu", "1", "--vm", "1", "--vm-bytes", "128M", "--timeout", "30m"}));
  CHECK(pod["entrypoint"].is_null());
  CHECK(pod["net"] == "bridge");
  CHECK(pod["stop_grace_period"] == 10);
  CHECK(pod["privileged"].is_null());
  CHECK(pod["read_only"] == false);
  CHECK(pod["hostname"] == "stress-1");
  CHECK(pod["domainname"] == "stress.test.kontena.local");
  const std::regex ruby_utc(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$)");
  CHECK(std::regex_match(pod["deploy_rev"].get<std::string>(), ruby_utc));
  CHECK(std::regex_match(pod["updated_at"].get<std::string>(), ruby_utc));
  CHECK(pod["labels"] == Json({{"io.kontena.service.id", sid},
                               {"io.kontena.service.name", "stress"},
                               {"io.kontena.stack.name", "stress"},
                               {"io.kontena.grid.name", "test"},
                               {"io.kontena.platform.name", "test"}}));
  CHECK(pod["env"] == Json::array({"KONTENA_SERVICE_ID=" + sid, "KONTENA_SERVICE_NAME=stress",
                                   "KONTENA_GRID_NAME=test", "KONTENA_PLATFORM_NAME=test", "KONTENA_STACK_NAME=stress",
                                   "KONTENA_NODE_NAME=eph", "KONTENA_SERVICE_INSTANCE_NUMBER=1"}));

  // Before set_state the deploy waits and the instance has no rev.
  auto service = show(sim);
  REQUIRE(service["instances"].size() == 1);
  CHECK(service["instances"][0]["node"] == "eph");
  CHECK(service["instances"][0]["rev"].is_null());
  CHECK(service["deploys"][0]["state"] == "ongoing");

  save(eph, kIdA, docker_inspect("c0ffee01", pod, true));
  CHECK(set_state(eph, kIdA, pod, "running") == Json::object());
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 1, "success"); }));

  service = show(sim);
  const auto& inst = service["instances"][0];
  CHECK(inst["instance_number"] == 1);
  CHECK(inst["state"] == "running");
  CHECK(inst["rev"] == pod["deploy_rev"]);
  CHECK(inst["deploy_rev"] == pod["deploy_rev"]);
  CHECK(inst["error"].is_null());
  REQUIRE(inst["containers"].size() == 1);
  const auto& c = inst["containers"][0];
  CHECK(c["id"] == "c0ffee01");
  CHECK(c["name"] == "stress.stress-1");
  CHECK(c["node"] == "eph");
  CHECK(c["status"] == "running");
  CHECK(c["labels"]["io;kontena;service;id"] == sid);  // stored as ContainerInfoMapper#parse_labels does
  CHECK(service["deploys"][0]["deploy_rev"] == pod["deploy_rev"]);
  CHECK(service["deploys"][0]["instances"] == Json::array({{{"instance_number", 1},
                                                             {"node", "eph"},
                                                             {"state", "success"},
                                                             {"error", nullptr}}}));
  bool deployed_event = false;
  for (const auto& e : service["events"]) deployed_event |= e["msg"] == "service test/stress/stress deployed";
  CHECK(deployed_event);

  // The node without the label gets no request and no pod.
  CHECK(plain.next(300ms).kind == Event::Kind::timeout);
  plain.send(kn::rpc::Request{9, "/node_service_pods/list", Json::array({kIdB})});
  CHECK(plain.response(9).result == Json({{"service_pods", Json::array()}}));

  // A stopped container shows as stopped; the agent's event goes to the event log.
  save(eph, kIdA, docker_inspect("c0ffee01", pod, false));
  CHECK(show(sim)["instances"][0]["containers"][0]["status"] == "stopped");
  eph.send(kn::rpc::Notification{"/node_service_pods/event",
                                 Json::array({kIdA,
                                              {{"service_id", sid},
                                               {"instance_number", 1},
                                               {"severity", 1},
                                               {"type", "service:create_instance"},
                                               {"data", "created stress.stress-1"}}})});
  REQUIRE(MasterSim::wait_until([&] { return show(sim)["events"].back()["type"] == "service:create_instance"; }));
  const auto ev = show(sim)["events"].back();
  CHECK(ev["node"] == "eph");
  CHECK(ev["msg"] == "created stress.stress-1");
  CHECK(ev["instance_number"] == 1);
}

TEST_CASE("services: a 501 reply to notify_update fails the instance deploy", "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  Agent eph(sim, node_headers(sim, "eph", kIdA, "ephemeral=true"));
  join(eph);
  REQUIRE(sim.rest("POST", "/v1/grids/test/stacks", stress_stack()).status == 201);
  auto req = eph.request();
  CHECK(req.method == "/service_pods/notify_update");
  eph.send(kn::rpc::not_implemented(req.id));
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 1, "error"); }));
  const auto service = show(sim);
  const auto& d = service["deploys"][0];
  CHECK(d["reason"] == "halting deploy of test/stress/stress, one or more instances failed");
  // A 501 carries `error`, not `message`, so RpcClient::Error has a nil message.
  CHECK(d["instances"][0]["error"] == "RpcClient::Error: RpcClient::Error");
  CHECK(service["instances"][0]["rev"].is_null());
}

TEST_CASE("services: no set_state within the deploy timeout fails the deploy", "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  sim.configure({{"deploy_timeout_ms", 300}});
  Agent eph(sim, node_headers(sim, "eph", kIdA, "ephemeral=true"));
  join(eph);
  REQUIRE(sim.rest("POST", "/v1/grids/test/stacks", stress_stack()).status == 201);
  const auto pod = take_update(eph, kIdA)[0];
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 1, "error"); }));
  CHECK(show(sim)["deploys"][0]["instances"][0]["error"] ==
        "Timeout::Error: Timeout after waiting 0.3s until: service test/stress/stress-1 is running on node test/eph "
        "at " + pod["deploy_rev"].get<std::string>());
}

TEST_CASE("services: an error or a wrong state in set_state fails the instance", "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  Agent eph(sim, node_headers(sim, "eph", kIdA, "ephemeral=true"));
  join(eph);
  REQUIRE(sim.rest("POST", "/v1/grids/test/stacks", stress_stack()).status == 201);
  auto pod = take_update(eph, kIdA)[0];
  set_state(eph, kIdA, pod, "missing", "Docker::Error::NotFoundError: pull access denied");
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 1, "error"); }));
  CHECK(show(sim)["deploys"][0]["instances"][0]["error"] ==
        "GridServiceInstanceDeployer::ServiceError: Docker::Error::NotFoundError: pull access denied");
  CHECK(show(sim)["instances"][0]["error"] == "Docker::Error::NotFoundError: pull access denied");

  REQUIRE(sim.rest("POST", "/v1/services/test/stress/stress/deploy").status == 200);
  pod = take_update(eph, kIdA)[0];
  set_state(eph, kIdA, pod, "stopped");
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 2, "error"); }));
  CHECK(show(sim)["deploys"][1]["instances"][0]["error"] ==
        "GridServiceInstanceDeployer::StateError: Service instance is not running, but stopped");
}

TEST_CASE("services: a daemon service is redeployed when a matching node joins, with a newer rev on every node",
          "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  Agent a(sim, node_headers(sim, "eph-a", kIdA, "ephemeral=true"));
  join(a);
  REQUIRE(sim.rest("POST", "/v1/grids/test/stacks", stress_stack()).status == 201);
  const auto first = take_update(a, kIdA)[0];
  set_state(a, kIdA, first, "running");
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 1, "success"); }));

  Agent c(sim, node_headers(sim, "eph-c", kIdC, "ephemeral=true"));
  join(c);
  // GridSchedulerJob (every 200 ms here) sees 2 matching nodes for 1 instance.
  const auto pods_a = take_update(a, kIdA);
  REQUIRE(pods_a.size() == 1);
  CHECK(pods_a[0]["instance_number"] == 1);  // the instance stays where it runs
  CHECK(pods_a[0]["deploy_rev"].get<std::string>() > first["deploy_rev"].get<std::string>());
  set_state(a, kIdA, pods_a[0], "running");
  const auto pods_c = take_update(c, kIdC);
  REQUIRE(pods_c.size() == 1);
  CHECK(pods_c[0]["instance_number"] == 2);
  CHECK(pods_c[0]["deploy_rev"] == pods_a[0]["deploy_rev"]);
  CHECK(pods_c[0]["hostname"] == "stress-2");
  set_state(c, kIdC, pods_c[0], "running");
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 2, "success"); }));
  const auto service = show(sim);
  CHECK(service["instances"].size() == 2);
  CHECK(service["instances"][1]["node"] == "eph-c");
  CHECK(service["instances"][1]["rev"] == pods_c[0]["deploy_rev"]);
  bool scheduler_event = false;
  for (const auto& e : service["events"]) scheduler_event |= e["type"] == "scheduler";
  CHECK(scheduler_event);
}

TEST_CASE("services: stack rm sends stop, then terminate, and the pods are gone", "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  Agent eph(sim, node_headers(sim, "eph", kIdA, "ephemeral=true"));
  join(eph);
  REQUIRE(sim.rest("POST", "/v1/grids/test/stacks", stress_stack()).status == 201);
  const auto pod = take_update(eph, kIdA)[0];
  set_state(eph, kIdA, pod, "running");
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 1, "success"); }));

  sim.remove_stack("stress");
  auto stop = eph.notification("/service_pods/notify_update");
  CHECK(stop.params == Json::array({"stop"}));
  auto terminate = eph.notification("/service_pods/notify_update");
  CHECK(terminate.params == Json::array({"terminate"}));
  eph.send(kn::rpc::Request{5, "/node_service_pods/list", Json::array({kIdA})});
  CHECK(eph.response(5).result == Json({{"service_pods", Json::array()}}));
  CHECK(sim.service("stress", "stress").is_null());
  CHECK(sim.rest("GET", "/v1/stacks/test/stress").status == 404);
}

TEST_CASE("services: containers are upserted, deleted by destroy and cleanup, and marked deleted on disconnect",
          "[master_sim][services]") {
  MasterSim sim;
  auto containers = [&] {
    std::map<std::string, Json> out;
    for (const auto& c : sim.containers()) out[c["id"]] = c;
    return out;
  };
  {
    Agent agent(sim, node_headers(sim, "eph", kIdA, "ephemeral=true"));
    join(agent);
    const Json plain = {{"Id", "aaaa"},
                        {"Name", "/weave"},
                        {"Config", {{"Image", "weaveworks/weave:1.9.3"}, {"Env", {"A=1"}}}},
                        {"State", {{"Running", true}}}};
    auto renamed = [&](const std::string& id, const std::string& name) {
      Json c = plain;
      c["Id"] = id;
      c["Name"] = name;
      return c;
    };
    save(agent, kIdA, plain);
    save(agent, kIdA, renamed("bbbb", "/other"));
    save(agent, kIdA, renamed("cccc", "/third"));
    auto all = containers();
    REQUIRE(all.size() == 3);
    CHECK(all["aaaa"]["name"] == "weave");
    CHECK(all["aaaa"]["status"] == "running");
    CHECK(all["aaaa"]["node"] == "eph");

    agent.send(kn::rpc::Request{1, "/containers/event",
                                Json::array({{{"id", "aaaa"}, {"status", "destroy"}, {"time", 1}}})});
    CHECK(agent.response(1).result == Json::object());
    agent.send(kn::rpc::Request{2, "/containers/cleanup", Json::array({kIdA, {"bbbb"}})});
    CHECK(agent.response(2).result == 1);
    all = containers();
    CHECK(all.count("aaaa") == 0);
    CHECK(all.count("bbbb") == 0);
    CHECK(all["cccc"]["status"] == "running");

    agent.send(kn::rpc::Request{3, "/containers/save", Json::array({{{"node", kIdA}}})});
    CHECK(agent.response(3).error["code"] == 500);
    agent.send(kn::rpc::Request{4, "/containers/save", Json::array()});
    CHECK(agent.response(4).error ==
          Json({{"code", 500}, {"message", "ArgumentError: wrong number of arguments (given 0, expected 1)"}}));
  }
  // The agent went away: NodeUnplugger marks its containers deleted.
  REQUIRE(MasterSim::wait_until([&] { return containers()["cccc"]["status"] == "deleted"; }));
}

TEST_CASE("services: pod RPC errors are the master's", "[master_sim][services]") {
  MasterSim sim;
  Agent agent(sim, node_headers(sim, "eph", kIdA, "ephemeral=true"));
  join(agent);
  agent.send(kn::rpc::Request{1, "/node_service_pods/list", Json::array({"NOPE:0000"})});
  CHECK(agent.response(1).error == Json({{"code", 500}, {"message", "RuntimeError: Node not found"}}));
  agent.send(kn::rpc::Request{2, "/node_service_pods/set_state",
                              Json::array({kIdA, {{"service_id", "x"}, {"instance_number", 1}}})});
  CHECK(agent.response(2).error == Json({{"code", 500}, {"message", "RuntimeError: Instance not found"}}));
}

TEST_CASE("services: REST definitions are validated and ha places instances, ports exclusive",
          "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  // No GridSchedulerJob retries of the failing deploy below: the test deploys by hand.
  sim.configure({{"scheduler_interval_ms", 3'600'000}});
  CHECK(sim.rest("POST", "/v1/grids/test/stacks", {{"name", "bad"}, {"services", {{{"name", "x"}}}}}).status == 422);
  CHECK(sim.rest("POST", "/v1/grids/test/stacks",
                 {{"name", "bad"}, {"services", {{{"name", "x"}, {"image", "i"}, {"strategy", "random"}}}}})
            .status == 422);
  CHECK(sim.rest("POST", "/v1/grids/nope/stacks", stress_stack()).status == 404);
  Agent a(sim, node_headers(sim, "a", kIdA, ""));
  join(a);
  Agent b(sim, node_headers(sim, "b", kIdB, ""));
  join(b);
  const Json web = {{"name", "web"},
                    {"stack", "null"},
                    {"image", "registry.example:5000/web:1"},
                    {"instances", 2},
                    {"ports", {"8080:80"}},
                    {"env", {{"MODE", "prod"}}},
                    {"secrets", {{{"name", "PASSWORD"}, {"value", "hunter2"}}}},
                    {"image_credentials", {{"username", "u"}, {"password", "p4ss"}, {"email", "u@example"}}},
                    {"memory", "64m"}};
  auto created = sim.rest("POST", "/v1/grids/test/services", web);
  REQUIRE(created.status == 201);
  CHECK(created.body["image_credentials"]["password"] == "<present>");
  CHECK(created.raw.find("p4ss") == std::string::npos);
  CHECK(created.raw.find("hunter2") == std::string::npos);
  // Without MemTotal from /nodes/update no node has room for 64m.
  REQUIRE(sim.rest("POST", "/v1/services/test/null/web/deploy").status == 200);
  REQUIRE(MasterSim::wait_until([&] {
    return deploy_finished(sim.rest("GET", "/v1/services/test/null/web").body, 1, "error");
  }));
  CHECK(sim.rest("GET", "/v1/services/test/null/web").body["deploys"][0]["reason"] ==
        "Cannot find applicable node for service instance test/null/web-1: Did not find any nodes with sufficient "
        "free memory: 67108864");

  for (auto* agent : {&a, &b}) {
    const std::string id = agent == &a ? kIdA : kIdB;
    agent->send(kn::rpc::Request{7, "/nodes/update",
                                 Json::array({id, {{"MemTotal", 1LL << 30}, {"NCPU", 2}}})});
    CHECK(agent->response(7).result == true);
  }
  REQUIRE(sim.rest("POST", "/v1/services/test/null/web/deploy").status == 200);
  const auto pod_a = take_update(a, kIdA)[0];
  CHECK(pod_a["service_name"] == "web");
  CHECK(pod_a["domainname"] == "test.kontena.local");
  CHECK(pod_a["memory"] == 67108864);
  CHECK(pod_a["ports"] == Json::array({{{"ip", "0.0.0.0"}, {"protocol", "tcp"}, {"node_port", 8080}, {"container_port", 80}}}));
  CHECK(pod_a["secrets"] == Json::array({{{"name", "PASSWORD"}, {"type", "env"}, {"value", "hunter2"}}}));
  CHECK(pod_a["image_credentials"] == Json({{"username", "u"}, {"password", "p4ss"}, {"email", "u@example"}}));
  CHECK(pod_a["env"][0] == "MODE=prod");
  set_state(a, kIdA, pod_a, "running");
  // Port 8080 is taken on node a, so instance 2 goes to b.
  const auto pod_b = take_update(b, kIdB)[0];
  CHECK(pod_b["instance_number"] == 2);
  set_state(b, kIdB, pod_b, "running");
  REQUIRE(MasterSim::wait_until([&] {
    return deploy_finished(sim.rest("GET", "/v1/services/test/null/web").body, 2, "success");
  }));
  CHECK(sim.log().find("p4ss") == std::string::npos);
  CHECK(sim.log().find("hunter2") == std::string::npos);
}

TEST_CASE("services: registry credentials reach the pod, and an update is redeployed by the scheduler",
          "[master_sim][services]") {
  MasterSim sim;
  fast(sim);
  auto added = sim.rest("POST", "/v1/grids/test/external_registries",
                        {{"url", "http://127.0.0.1:5000"}, {"username", "demo"}, {"password", "s3cret"}});
  REQUIRE(added.status == 201);
  CHECK(added.body["name"] == "127.0.0.1:5000");
  CHECK(added.raw.find("s3cret") == std::string::npos);
  CHECK(sim.rest("GET", "/v1/grids/test/external_registries").raw.find("s3cret") == std::string::npos);

  Agent eph(sim, node_headers(sim, "eph", kIdA, "ephemeral=true"));
  join(eph);
  auto stack = stress_stack();
  stack["services"][0]["image"] = "127.0.0.1:5000/stress:latest";
  sim.create_stack(stack);
  const auto pod = take_update(eph, kIdA)[0];
  CHECK(pod["image_name"] == "127.0.0.1:5000/stress:latest");
  CHECK(pod["image_credentials"] == Json({{"username", "demo"}, {"password", "s3cret"}, {"email", nullptr}}));
  set_state(eph, kIdA, pod, "running");
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 1, "success"); }));

  auto updated = sim.rest("PUT", "/v1/services/test/stress/stress", {{"cpu_shares", 200}});
  REQUIRE(updated.status == 200);
  CHECK(updated.body["revision"] == 2);
  // GridSchedulerJob: updated_at > deployed_at, so the service is redeployed.
  const auto next = take_update(eph, kIdA)[0];
  CHECK(next["service_revision"] == 2);
  CHECK(next["cpu_shares"] == 200);
  CHECK(next["deploy_rev"].get<std::string>() > pod["deploy_rev"].get<std::string>());
  set_state(eph, kIdA, next, "running");
  REQUIRE(MasterSim::wait_until([&] { return deploy_finished(show(sim), 2, "success"); }));
  CHECK(sim.log().find("s3cret") == std::string::npos);
}

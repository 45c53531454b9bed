// The master simulator's lifecycle hooks as the Kontena 1.5.4 master keeps them
// (kontena v1.5.4: server/app/services/rpc/node_service_pod_handler.rb mark_oneshot_hook,
// server/app/serializers/rpc/service_pod_serializer.rb): per-instance hooks in the pod, a
// oneshot left out once marked done for the instance, and its progress kept across updates.
#include "sim_agent.hpp"

using namespace sim_agent;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kNode = "HOOK:AAAA:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001";

std::uint32_t next_id() {
  static std::uint32_t id = 500;
  return ++id;
}

Json list(Agent& agent) {
  const auto id = next_id();
  agent.send(kn::rpc::Request{id, "/node_service_pods/list", Json::array({kNode})});
  auto res = agent.response(id);
  REQUIRE(res.error.is_null());
  return res.result["service_pods"];
}

kn::rpc::Response mark(Agent& agent, const Json& pod, const Json& hook) {
  const auto id = next_id();
  agent.send(kn::rpc::Request{
      id, "/node_service_pods/mark_oneshot_hook",
      Json::array({kNode, {{"service_id", pod["service_id"]}, {"instance_number", pod["instance_number"]}}, hook})});
  return agent.response(id);
}

Json hook_named(const Json& service, const std::string& name) {
  for (const auto& h : service["spec"]["hooks"]) {
    if (h.value("name", "") == name) return h;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("services: hooks reach the pod of their instances and a oneshot marked done is left out",
          "[master_sim][services][hooks]") {
  MasterSim sim;
  sim.configure({{"scheduler_interval_ms", 200}, {"deploy_poll_ms", 20}, {"notify_timeout_ms", 2000},
                 {"deploy_timeout_ms", 5000}});
  auto headers = agent_headers(sim, "node-1", kNode);
  Agent agent(sim, headers);
  join(agent);

  sim.create_stack(
      {{"name", "app"},
       {"services",
        {{{"name", "web"},
          {"image", "busybox"},
          {"strategy", "ha"},
          {"instances", 1},
          {"hooks",
           {{"pre_start", {{{"name", "migrate"}, {"cmd", "echo once"}, {"oneshot", true}, {"instances", "*"}}}},
            {"post_start", {{{"name", "second-only"}, {"cmd", "echo two"}, {"instances", 2}}}},
            {"pre_stop", {{{"name", "drain"}, {"cmd", "echo drain"}, {"instances", "1,3"}}}}}}}}}});

  // The deploy's notify_update; the pod of instance 1 has its hooks, not instance 2's.
  auto req = agent.request();
  REQUIRE(req.method == "/service_pods/notify_update");
  agent.send(kn::rpc::Response{req.id, nullptr, Json::object()});
  auto pods = list(agent);
  REQUIRE(pods.size() == 1);
  const Json pod = pods[0];
  REQUIRE(pod["hooks"].size() == 2);
  const Json once = pod["hooks"][0];
  CHECK(once["type"] == "pre_start");
  CHECK(once["cmd"] == "echo once");
  CHECK(once["oneshot"] == true);
  CHECK(once["id"].is_string());
  CHECK(pod["hooks"][1]["type"] == "pre_stop");
  CHECK(pod["hooks"][1]["oneshot"] == false);

  // Marked done: the master counts it for instance 1 and the next pod omits it.
  auto marked = mark(agent, pod, once);
  CHECK(marked.error.is_null());
  CHECK(marked.result == Json::object());
  pods = list(agent);
  REQUIRE(pods.size() == 1);
  REQUIRE(pods[0]["hooks"].size() == 1);
  CHECK(pods[0]["hooks"][0]["cmd"] == "echo drain");
  auto service = sim.service("app", "web");
  CHECK(hook_named(service, "migrate")["done"] == Json::array({"1"}));

  // An unknown (or not oneshot) hook is an error reply, as Kontena raises it.
  auto unknown = mark(agent, pod, pod["hooks"][1]);
  REQUIRE(unknown.error.is_object());
  CHECK_THAT(unknown.error.value("message", ""), Catch::Contains("Hook not found"));

  // `kontena service update` keeping the hook keeps what ran.
  auto updated = sim.rest("PUT", "/v1/services/" + sim.grid() + "/app/web", {{"env", Json::array({"X=1"})}});
  REQUIRE(updated.status == 200);
  CHECK(hook_named(updated.body, "migrate")["done"] == Json::array({"1"}));
  CHECK(hook_named(updated.body, "migrate")["id"] == once["id"]);
}

// The master simulator's volumes (tests/master_sim/volumes.hpp) as an agent meets them on a
// Kontena 1.5.4 master: a raw WebSocket + MessagePack client (sim_agent.hpp) gets the
// /volumes/notify_update request when a deploy creates a volume instance on its node, lists
// /node_volumes, reports set_state, and sees the pod's volume entry carry the instance name.
#include "sim_agent.hpp"

using namespace sim_agent;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kId = "PLAN:BBBB:0000:0000:0000:0000:0000:0000:0000:0000:0000:0002";

std::uint32_t next_id() {
  static std::uint32_t id = 500;
  return ++id;
}

kn::rpc::Response call(Agent& agent, const std::string& method, Json params) {
  const auto id = next_id();
  agent.send(kn::rpc::Request{id, method, std::move(params)});
  return agent.response(id);
}

Json web_stack(const Json& volumes) {
  return {{"name", "site"},
          {"services",
           {{{"name", "web"}, {"image", "nginx"}, {"strategy", "ha"}, {"instances", 1}, {"volumes", volumes}}}}};
}

}  // namespace

TEST_CASE("volumes: a deploy creates the node's volume instance, notifies it, and the pod mounts it by name",
          "[master_sim][volumes]") {
  MasterSim sim;
  sim.configure({{"scheduler_interval_ms", 200}, {"deploy_poll_ms", 20}, {"deploy_timeout_ms", 5000}});
  Agent agent(sim, agent_headers(sim, "plain", kId));
  join(agent);

  auto created = sim.rest("POST", "/v1/volumes/test",
                          {{"name", "data"}, {"scope", "instance"}, {"driver", "local"}, {"driver_opts", {{"o", "x"}}}});
  REQUIRE(created.status == 201);
  CHECK(created.body["id"] == "test/data");
  // Volumes::Create's rules: a taken name, a bad scope, a leading '-'.
  CHECK(sim.rest("POST", "/v1/volumes/test", {{"name", "data"}, {"scope", "grid"}, {"driver", "local"}}).status == 422);
  CHECK(sim.rest("POST", "/v1/volumes/test", {{"name", "x"}, {"scope", "node"}, {"driver", "local"}}).status == 422);
  CHECK(sim.rest("POST", "/v1/volumes/test", {{"name", "-x"}, {"scope", "grid"}, {"driver", "local"}}).status == 422);

  REQUIRE(sim.rest("POST", "/v1/grids/test/stacks", web_stack({"data:/srv:ro", "/cache"})).status == 201);
  // VolumeInstanceDeployer first: the request /volumes/notify_update [[]].
  auto req = agent.request();
  REQUIRE(req.method == "/volumes/notify_update");
  CHECK(req.params == Json::array({Json::array()}));
  agent.send(kn::rpc::Response{req.id, nullptr, Json::object()});
  // Then the pod's notice; it is answered after the volume calls below.
  auto pods_req = agent.request();
  REQUIRE(pods_req.method == "/service_pods/notify_update");

  auto listed = call(agent, "/node_volumes/list", Json::array({kId}));
  REQUIRE(listed.error.is_null());
  REQUIRE(listed.result["volumes"].size() == 1);
  const Json v = listed.result["volumes"][0];
  CHECK(v["name"] == "site.web.data-1");
  CHECK(v["driver"] == "local");
  CHECK(v["driver_opts"] == Json{{"o", "x"}});
  CHECK(v["volume_id"].is_string());
  CHECK(v["volume_instance_id"].is_string());
  auto state = call(agent, "/node_volumes/set_state",
                    Json::array({kId, {{"name", v["name"]}, {"volume_instance_id", v["volume_instance_id"]},
                                       {"volume_id", v["volume_id"]}}}));
  CHECK(state.error.is_null());
  CHECK(state.result == Json::object());

  // Then the pod: its named entry is the instance, the anonymous one stays as it was.
  agent.send(kn::rpc::Response{pods_req.id, nullptr, Json::object()});
  auto pods = call(agent, "/node_service_pods/list", Json::array({kId}));
  REQUIRE(pods.result["service_pods"].size() == 1);
  const Json volumes = pods.result["service_pods"][0]["volumes"];
  REQUIRE(volumes.size() == 2);
  CHECK(volumes[0] == Json{{"name", "site.web.data-1"}, {"path", "/srv"}, {"flags", "ro"}, {"driver", "local"},
                           {"driver_opts", {{"o", "x"}}}});
  CHECK(volumes[1] == Json{{"bind_mount", nullptr}, {"path", "/cache"}, {"flags", nullptr}});
  const auto shown = sim.volume("data");
  REQUIRE(shown["instances"].size() == 1);
  CHECK(shown["instances"][0] == Json{{"name", "site.web.data-1"}, {"node", "plain"}});

  // Unknown node and volume ids are the master's errors.
  auto unknown = call(agent, "/node_volumes/list", Json::array({"NOPE"}));
  CHECK(unknown.error == Json{{"code", 500}, {"message", "RuntimeError: Node not found"}});
  auto bad = call(agent, "/node_volumes/set_state", Json::array({kId, {{"name", "z"}, {"volume_instance_id", "nope"},
                                                                       {"volume_id", "nope"}}}));
  CHECK(bad.error == Json{{"code", 500}, {"message", "RuntimeError: Could not find volume with id: nope"}});

  // In use: refused. Once the service is gone, the delete notifies the node with ["remove"].
  CHECK(sim.rest("DELETE", "/v1/volumes/test/data").status == 422);
  REQUIRE(sim.rest("DELETE", "/v1/services/test/site/web").status == 200);
  CHECK(agent.notification("/service_pods/notify_update").params == Json::array({"terminate"}));
  REQUIRE(sim.rest("DELETE", "/v1/volumes/test/data").status == 200);
  CHECK(agent.notification("/volumes/notify_update").params == Json::array({"remove"}));
  auto after = call(agent, "/node_volumes/list", Json::array({kId}));
  CHECK(after.result["volumes"] == Json::array());
  CHECK(sim.volume("data").is_null());
}

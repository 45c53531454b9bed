// The master simulator's container health and stats (tests/master_sim/container_stats.hpp),
// driven as an agent drives a Kontena 1.5.4 master: /containers/save, then /containers/health
// and the /containers/stat notification; the REST read-outs are checked like
// `kontena service containers` and `kontena service stats`.
#include "container_stats.hpp"
#include "sim_agent.hpp"

using namespace sim_agent;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kNodeId = "EPHM:AAAA:0000:0000:0000:0000:0000:0000:0000:0000:0000:0009";

Json call(Agent& agent, std::uint32_t id, const std::string& method, const Json& params) {
  agent.send(kn::rpc::Request{id, method, params});
  auto res = agent.response(id);
  CHECK(res.error.is_null());
  return res.result;
}

}  // namespace

TEST_CASE("master sim: cpu masks count their CPUs as ContainerStat.calculate_num_cores does", "[master_sim]") {
  CHECK(kn::master_sim::cpu_mask_cores("0") == 1);
  CHECK(kn::master_sim::cpu_mask_cores("0-3") == 4);
  CHECK(kn::master_sim::cpu_mask_cores("0-1,4,6-7") == 5);
  CHECK(kn::master_sim::cpu_mask_cores("") == 0);
  CHECK(kn::master_sim::cpu_mask_cores("x-y") == 0);
}

TEST_CASE("master sim: a service's containers show their health and the latest stat", "[master_sim][services]") {
  MasterSim sim;
  Agent agent(sim, agent_headers(sim, "node-1", kNodeId));
  join(agent);
  auto created = sim.rest("POST", "/v1/grids/" + sim.grid() + "/services",
                          {{"name", "web"}, {"image", "busybox"}, {"stack", "web"}});
  REQUIRE(created.status == 201);
  const std::string service_id = created.body["service_id"];
  const std::string base = "/v1/services/" + sim.grid() + "/web/web";

  call(agent, 1, "/containers/save",
       Json::array({{{"node", kNodeId},
                     {"container",
                      {{"Id", "c0ffee"},
                       {"Name", "/web.web-1"},
                       {"Config",
                        {{"Image", "busybox"},
                         {"Labels",
                          {{"io.kontena.service.id", service_id},
                           {"io.kontena.service.instance_number", "1"},
                           {"io.kontena.container.name", "web.web-1"},
                           {"io.kontena.container.type", "container"}}}}},
                       {"State", {{"Running", true}}}}}}}));
  auto before = sim.rest("GET", base + "/container_stats");
  REQUIRE(before.status == 200);
  REQUIRE(before.body["stats"].size() == 1);
  CHECK(before.body["stats"][0] == Json{{"container_id", "web.web-1"}, {"cpu", nullptr}, {"memory", nullptr},
                                        {"network", nullptr}});

  call(agent, 2, "/containers/health", Json::array({{{"id", "c0ffee"}, {"status", "unhealthy"}, {"status_code", 503}}}));
  const Json stat = {{"id", "c0ffee"},
                     {"spec", {{"cpu", {{"limit", 512}, {"mask", "0-1"}}}, {"memory", {{"limit", 268435456}}}}},
                     {"cpu", {{"usage", 10000000}, {"usage_pct", 1.5}}},
                     {"memory", {{"usage", 2048}, {"working_set", 1024}}},
                     {"filesystem", Json::array()},
                     {"diskio", Json::object()},
                     {"network", {{"internal", {{"rx_bytes", 0}}}, {"external", {{"rx_bytes", 736}}}}},
                     {"time", "2026-11-30 14:10:02 UTC"}};
  agent.send(kn::rpc::Notification{"/containers/stat", Json::array({stat})});
  // A stat of a container the master does not know is dropped.
  agent.send(kn::rpc::Notification{"/containers/stat", Json::array({{{"id", "unknown"}, {"cpu", {{"usage_pct", 9}}}}})});

  Json shown;
  CHECK(MasterSim::wait_until([&] {
    shown = sim.rest("GET", base + "/container_stats").body;
    return shown["stats"].size() == 1 && shown["stats"][0]["cpu"].is_object();
  }));
  CHECK(shown["stats"][0] == Json{{"container_id", "web.web-1"},
                                  {"cpu", {{"usage", 1.5}, {"limit", 512}, {"num_cores", 2}}},
                                  {"memory", {{"usage", 2048}, {"limit", 268435456}}},
                                  {"network", stat["network"]}});
  auto containers = sim.rest("GET", base + "/containers");
  REQUIRE(containers.status == 200);
  REQUIRE(containers.body["containers"].size() == 1);
  CHECK(containers.body["containers"][0]["id"] == "c0ffee");
  CHECK(containers.body["containers"][0]["health_status"] == "unhealthy");
  CHECK(sim.rest("POST", base + "/container_stats").status == 405);
}

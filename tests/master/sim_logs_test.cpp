// The master simulator's container logs (tests/master_sim/container_logs.hpp), driven as an
// agent drives a Kontena 1.5.4 master: lines of containers it knows from /containers/save are
// stored, others dropped, and read back as `kontena service logs` reads them.
#include "sim_agent.hpp"

using namespace sim_agent;  // NOLINT(google-build-using-namespace)

namespace {

const std::string kId = "LOGS:AAAA:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001";

Json line(const std::string& container, const std::string& time, const std::string& data,
          const std::string& type = "stdout") {
  return {{"id", container}, {"service", "web"}, {"stack", "shop"}, {"instance", 1},
          {"time", time},    {"type", type},     {"data", data}};
}

std::vector<std::string> data_of(const Json& logs) {
  std::vector<std::string> out;
  for (const auto& l : logs) out.push_back(l.value("data", ""));
  return out;
}

}  // namespace

TEST_CASE("sim logs: log_batch lines of known containers are stored and served with limit and from",
          "[master_sim][logs]") {
  MasterSim sim;
  auto created = sim.rest("POST", "/v1/grids/" + sim.grid() + "/services",
                          {{"name", "web"}, {"stack", "shop"}, {"image", "nginx"}, {"strategy", "ha"}});
  REQUIRE(created.status == 201);
  const std::string service_id = created.body["service_id"];

  Agent agent(sim, agent_headers(sim, "logs-node", kId));
  join(agent);
  const Json container = {{"Id", "c0ffee"},
                          {"Name", "/shop.web-1"},
                          {"Config",
                           {{"Image", "nginx"},
                            {"Labels",
                             {{"io.kontena.service.id", service_id},
                              {"io.kontena.service.instance_number", "1"},
                              {"io.kontena.container.name", "shop.web-1"},
                              {"io.kontena.container.type", "container"}}}}},
                          {"State", {{"Running", true}}}};
  agent.send(kn::rpc::Request{1, "/containers/save", Json::array({{{"node", kId}, {"container", container}}})});
  REQUIRE(agent.response(1).error.is_null());

  // One batch: three lines of the known container, one of a container the master never saw.
  agent.send(kn::rpc::Notification{
      "/containers/log_batch",
      Json::array({Json::array({line("c0ffee", "2024-01-02T03:04:05.000000001Z", "a"),
                                line("unknown", "2024-01-02T03:04:05.000000002Z", "lost"),
                                line("c0ffee", "2024-01-02T03:04:05.000000003Z", "b", "stderr"),
                                line("c0ffee", "2024-01-02T03:04:05.123456789Z", "c")})})});
  Json logs;
  REQUIRE(MasterSim::wait_until([&] {
    logs = sim.service_logs("shop", "web");
    return logs.size() == 3;
  }));
  CHECK(data_of(logs) == std::vector<std::string>{"a", "b", "c"});
  CHECK(logs[0]["name"] == "shop.web-1");
  CHECK(logs[0]["container_id"] == "c0ffee");
  CHECK(logs[0]["instance_number"] == 1);
  CHECK(logs[1]["type"] == "stderr");
  CHECK(logs[2]["created_at"] == "2024-01-02T03:04:05.123Z");  // a Mongoid time as Rails renders it

  // Without from: the last `limit` lines, oldest first; with from: the lines after that id.
  CHECK(data_of(sim.service_logs("shop", "web", 2)) == std::vector<std::string>{"b", "c"});
  CHECK(data_of(sim.service_logs("shop", "web", 1, logs[0]["id"])) == std::vector<std::string>{"b"});
  CHECK(data_of(sim.all_service_logs("shop", "web")) == std::vector<std::string>{"a", "b", "c"});
  CHECK(sim.rest("GET", "/v1/services/" + sim.grid() + "/shop/nope/container_logs").status == 404);

  // The test-only read delay: 0 turns it off, a negative one is refused.
  CHECK(sim.configure({{"read_delay_ms", 0}})["read_delay_ms"] == 0);
  CHECK(sim.rest("POST", "/v1/_sim/config", {{"read_delay_ms", -1}}).status == 422);
}

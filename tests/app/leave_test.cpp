// Leaving the grid cleanly, end to end: `kontena-agent run` on the IMDS simulator (its
// termination notices switched on at run time) and the master simulator (its node REST calls
// recorded). README.md "Leaving cleanly".
#include "support/agent_process.hpp"
#include "support/imds_sim.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>

using namespace kn;
using namespace std::chrono_literals;
using test::MasterSim;

namespace {

constexpr const char* kApiToken = "api-token-4f1c9e2b7d";  // the master's user token
// instance-life-cycle spot: only there does the agent poll spot/instance-action.
const std::vector<std::string> kSpotInstance{"--scenario", "spot"};

// The agent on both simulators: labels from IMDS, the API token (when given) from the
// environment, the spot notice at its default interval (5 s) unless `extra` says otherwise.
test::AgentOptions agent_options(const test::ImdsSim& imds, std::vector<std::pair<std::string, std::string>> extra) {
  test::AgentOptions o;
  o.name = "leaver";
  o.env = {{"AWS_EC2_METADATA_DISABLED", "false"}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}};
  for (auto& kv : extra) o.env.push_back(std::move(kv));
  return o;
}

nlohmann::json calls_with(const MasterSim& master, const std::string& method) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : master.node_api_calls()) {
    if (c["method"] == method) out.push_back(c);
  }
  return out;
}

std::string cmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("leave: a spot termination notice drains the node within 10 s; the stop removes it") {
  test::ImdsSim imds(kSpotInstance);
  MasterSim master({.api_token = kApiToken});
  test::AgentProcess agent(master, nullptr, agent_options(imds, {{"KONTENA_API_TOKEN", kApiToken}}));
  REQUIRE(master.wait_for_status("leaver", "online", 15s));
  CHECK(master.node_api_calls().empty());

  imds.control("POST", "spot", {{"action", "terminate"}});
  const auto noticed = std::chrono::steady_clock::now();
  REQUIRE(MasterSim::wait_until([&] { return !calls_with(master, "PUT").empty(); }, 10s));
  const auto drained_after = std::chrono::steady_clock::now() - noticed;
  const auto put = calls_with(master, "PUT").at(0);
  CHECK(put["status"] == 200);
  CHECK(put["auth"] == "ok");
  CHECK(put["grid"] == master.grid());
  CHECK(put["node"] == "leaver");
  CHECK(put["body"] == nlohmann::json{{"availability", "drain"}});
  CHECK(master.node("leaver")["availability"] == "drain");
  INFO("drained " << std::chrono::duration_cast<std::chrono::milliseconds>(drained_after).count()
                  << " ms after the notice");
  CHECK(MasterSim::wait_until([&] { return agent.log().find("set to drain") != std::string::npos; }, 5s));
  CHECK(agent.log().find("termination notice: spot instance-action terminate at ") != std::string::npos);

  REQUIRE(agent.terminate() == 0);
  const auto deletes = calls_with(master, "DELETE");
  REQUIRE(deletes.size() == 1);
  CHECK(deletes[0]["status"] == 200);
  CHECK(deletes[0]["node"] == "leaver");
  CHECK(master.node("leaver").is_null());
  CHECK(agent.log().find("removed from grid " + master.grid()) != std::string::npos);
  // The token is a secret: in no log line, not in the agent's argv.
  CHECK(agent.log().find(kApiToken) == std::string::npos);
}

TEST_CASE("leave: the Auto Scaling Group's Terminated lifecycle state drains and removes the node") {
  test::ImdsSim imds;  // an On-Demand instance
  MasterSim master({.api_token = kApiToken});
  test::AgentProcess agent(master, nullptr,
                           agent_options(imds, {{"KONTENA_API_TOKEN", kApiToken},
                                                {"KONTENA_ASG_CHECK_INTERVAL", "1s"},
                                                {"KONTENA_SPOT_CHECK_INTERVAL", "200ms"}}));
  REQUIRE(master.wait_for_status("leaver", "online", 15s));

  imds.control("POST", "asg", {{"state", "InService"}});
  imds.control("POST", "asg", {{"state", "Terminated"}});
  REQUIRE(MasterSim::wait_until([&] { return !calls_with(master, "PUT").empty(); }, 10s));
  CHECK(calls_with(master, "PUT").at(0)["status"] == 200);
  CHECK(master.node("leaver")["availability"] == "drain");
  CHECK(agent.log().find("termination notice: autoscaling target-lifecycle-state Terminated") != std::string::npos);
  // An On-Demand instance has no spot/instance-action: the agent never asked, at 200 ms or ever.
  for (const auto& r : imds.requests()) CHECK(r["path"].get<std::string>().find("spot/") == std::string::npos);

  REQUIRE(agent.terminate() == 0);
  REQUIRE(calls_with(master, "DELETE").size() == 1);
  CHECK(master.node("leaver").is_null());
}

TEST_CASE("leave: without an API token the agent closes with 1000 and says what the master will do") {
  test::ImdsSim imds(kSpotInstance);
  MasterSim master;
  test::AgentProcess agent(master, nullptr, agent_options(imds, {{"KONTENA_SPOT_CHECK_INTERVAL", "500ms"}}));
  REQUIRE(master.wait_for_status("leaver", "online", 15s));

  imds.control("POST", "spot", {{"action", "terminate"}});
  REQUIRE(MasterSim::wait_until([&] { return agent.log().find("no API token") != std::string::npos; }, 10s));
  REQUIRE(agent.terminate() == 0);
  CHECK(master.node_api_calls().empty());
  REQUIRE(master.wait_for_status("leaver", "offline", 5s));
  CHECK(master.node("leaver")["close_code"] == 1000);
  const auto log = agent.log();
  CHECK(log.find("without an API token: closed the master connection with 1000") != std::string::npos);
  CHECK(log.find("removes the node about 6 h after it was last seen") != std::string::npos);
}

TEST_CASE("leave: a token the master refuses gives one clear error per call, no retries, and is never shown") {
  test::ImdsSim imds(kSpotInstance);
  MasterSim master({.api_token = kApiToken});
  test::TempDir dir;
  const std::string wrong = "wrong-token-8d3a6c01e5";
  std::ofstream(dir / "api-token") << wrong << "\n";
  test::AgentProcess agent(master, nullptr,
                           agent_options(imds, {{"KONTENA_API_TOKEN_FILE", (dir / "api-token").string()},
                                                {"KONTENA_SPOT_CHECK_INTERVAL", "500ms"}}));
  REQUIRE(master.wait_for_status("leaver", "online", 15s));
  CHECK(cmdline(agent.process->pid()).find(wrong) == std::string::npos);

  imds.control("POST", "spot", {{"action", "terminate"}});
  REQUIRE(MasterSim::wait_until([&] { return agent.log().find("401 Unauthorized") != std::string::npos; }, 10s));
  // No retry storm: the notice keeps showing, the PUT is not repeated.
  CHECK_FALSE(MasterSim::wait_until([&] { return calls_with(master, "PUT").size() > 1; }, 2s));
  const auto puts = calls_with(master, "PUT");
  REQUIRE(puts.size() == 1);
  CHECK(puts[0]["status"] == 401);
  CHECK(puts[0]["auth"] == "wrong");
  CHECK(master.node("leaver")["availability"] != "drain");

  REQUIRE(agent.terminate() == 0);
  CHECK(calls_with(master, "DELETE").size() == 1);
  const auto log = agent.log();
  CHECK(log.find("failed to drain node leaver of grid " + master.grid()) != std::string::npos);
  CHECK(log.find("the master refused the API token from " + (dir / "api-token").string()) != std::string::npos);
  CHECK(log.find(wrong) == std::string::npos);
  CHECK(log.find(kApiToken) == std::string::npos);
}

TEST_CASE("leave: 403 from the master is reported once, with its fix") {
  test::ImdsSim imds(kSpotInstance);
  MasterSim master({.api_token = kApiToken});
  test::AgentProcess agent(master, nullptr,
                           agent_options(imds, {{"KONTENA_API_TOKEN", kApiToken}, {"KONTENA_SPOT_CHECK_INTERVAL", "500ms"}}));
  REQUIRE(master.wait_for_status("leaver", "online", 15s));
  master.node_api_fault(403, 1);
  imds.control("POST", "spot", {{"action", "stop"}});
  REQUIRE(MasterSim::wait_until([&] { return agent.log().find("403 Forbidden") != std::string::npos; }, 10s));
  CHECK(agent.log().find("use a token of a grid admin") != std::string::npos);
  CHECK(calls_with(master, "PUT").size() == 1);
  // A spot stop is not the end of the instance: drained (refused here), never removed.
  REQUIRE(agent.terminate() == 0);
  CHECK(calls_with(master, "DELETE").empty());
  CHECK(agent.log().find(kApiToken) == std::string::npos);
}

TEST_CASE("leave: a throttled or failing IMDS makes the watcher back off, and it recovers") {
  test::ImdsSim imds(kSpotInstance);
  MasterSim master({.api_token = kApiToken});
  test::AgentProcess agent(master, nullptr,
                           agent_options(imds, {{"KONTENA_API_TOKEN", kApiToken},
                                                {"KONTENA_SPOT_CHECK_INTERVAL", "500ms"},
                                                {"KONTENA_ASG_CHECK_INTERVAL", "0"}}));
  REQUIRE(master.wait_for_status("leaver", "online", 15s));
  imds.configure({{"fail_429", 100000}});
  imds.clear_requests();

  // Each failed read (the client's own retries of 429 included) doubles the path's interval:
  // 0.5 s base, 1, 2, 4 s, then the cap of 8 base intervals. One warning, then debug lines.
  REQUIRE(MasterSim::wait_until(
      [&] { return agent.log().find("(failure 4); next poll in 4.0 s") != std::string::npos; }, 30s));
  const auto log = agent.log();
  CHECK(log.find("(failure 2); next poll in 2.0 s") != std::string::npos);
  CHECK(log.find("(failure 3); next poll in 4.0 s") != std::string::npos);
  const auto warning = log.find("polling meta-data/spot/instance-action every 1.0 s until IMDS answers");
  CHECK(warning != std::string::npos);
  CHECK(log.find("polling meta-data/spot/instance-action every", warning + 1) == std::string::npos);
  // Four reads in about 10 s, each a handful of requests: not a request every 0.5 s or faster.
  std::size_t spot_requests = 0;
  for (const auto& r : imds.requests()) {
    if (r["path"].get<std::string>().find("spot/instance-action") != std::string::npos) ++spot_requests;
  }
  CHECK(spot_requests <= 30);

  // IMDS answers again: the next read finds the notice.
  imds.configure({{"fail_429", 0}});
  imds.control("POST", "spot", {{"action", "terminate"}});
  REQUIRE(MasterSim::wait_until([&] { return !calls_with(master, "PUT").empty(); }, 10s));
  CHECK(agent.log().find("IMDS answers meta-data/spot/instance-action again") != std::string::npos);
}

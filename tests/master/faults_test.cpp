// The master link's fault matrix (docs/fault-matrix.md, section Master): `kontena-agent run`
// as a real process against a master that is missing, unresolvable, wrongly certified, mute,
// half-open, restarting in a loop, or that sends garbage, oversized frames and wrongly typed
// MessagePack. Everything stays on loopback; IMDS is off (AgentProcess) and a name that cannot
// resolve uses the reserved .invalid TLD (RFC 6761 section 6.4), asked from a network namespace
// with no route, so not even the name server query leaves the machine. Each test prints what it
// measured as "measured: ..." lines, the numbers the fault matrix quotes.
#include "http/curl_transport.hpp"
#include "support/agent_process.hpp"
#include "support/loopback_port.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

using namespace kn::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// The simulator as a bare process on a fixed port (killed and started again where the agent
// expects it), sharing the grid and grid token file of a MasterSim fixture.
struct BareSim {
  std::filesystem::path err;
  std::unique_ptr<Process> process;
  int port = 0;

  BareSim(const TempDir& dir, const MasterSim& like, int fixed_port, std::vector<std::string> extra = {}) {
    const auto port_file = dir / "port";
    std::filesystem::remove(port_file);
    static int starts = 0;
    err = dir / ("sim-" + std::to_string(++starts) + ".err");
    std::vector<std::string> argv{binary("kontena-master-sim"), "--listen", "127.0.0.1", "--port",
                                  std::to_string(fixed_port), "--port-file", port_file.string(), "--grid", like.grid(),
                                  "--grid-token-file", like.grid_token_file().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<Process>(argv, Env{}, std::filesystem::path{}, err);
    const auto written = wait_for_port_file(port_file, *process, 10s);
    REQUIRE(written.has_value());
    port = *written;
  }
  std::string log() const { return read_text(err); }
  std::string node_status(const std::string& name) const {
    kn::http::CurlTransport transport;
    kn::http::Request req;
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/nodes/test/" + name;
    auto r = transport.perform(req);
    if (!r || r->status != 200) return {};
    auto j = json::parse(r->body, nullptr, false);
    return j.is_object() ? j.value("status", "") : std::string();
  }
};

std::string hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += kDigits[b >> 4U];
    out += kDigits[b & 15U];
  }
  return out;
}

// One data frame from the master to the node, unchecked (POST /v1/_sim/raw).
void send_raw(const MasterSim& master, const std::string& node, const std::vector<std::uint8_t>& bytes,
              std::uint64_t pad_to = 0, bool text = false) {
  auto r = master.rest("POST", "/v1/_sim/raw", {{"node", node}, {"hex", hex(bytes)}, {"pad_to", pad_to}, {"text", text}});
  REQUIRE(r.status == 200);
}

std::vector<std::uint8_t> msgpack(const json& j) { return json::to_msgpack(j); }

// The agent is still up on its first connection and answers a request at once.
void require_link_intact(const MasterSim& master, AgentProcess& agent, int handshakes = 1) {
  const auto reply = master.request(agent.name, "/etcd/health", json::array(), 5s);
  INFO(agent.log());
  CHECK(reply["error"]["code"] == 501);
  CHECK(agent.process->running());
  CHECK(master.stats()["handshakes"] == handshakes);
  CHECK(master.node(agent.name)["status"] == "online");
}

}  // namespace

TEST_CASE("master fault: refused - the agent retries with backoff and joins once the master listens", "[faults]") {
  MasterSim like;  // the grid token file and grid the late master uses
  LoopbackPort closed(false);
  const int port = closed.port();
  AgentProcess agent(like, nullptr, {.env = {{"KONTENA_URL", "http://127.0.0.1:" + std::to_string(port) + "/"}}});
  const bool retried = wait_until([&] { return count_of(agent.log(), "reconnecting in") >= 3; }, 15s);
  INFO(agent.log());
  REQUIRE(retried);
  CHECK(agent.log().find("failed to connect to the master at ws://127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
  CHECK(agent.log().find("refused") != std::string::npos);
  CHECK(agent.process->running());

  closed.release();
  TempDir dir;
  const auto t0 = Clock::now();
  BareSim sim(dir, like, port);
  const bool online = wait_until([&] { return sim.node_status(agent.name) == "online"; }, 10s);
  CHECK(online);
  std::cerr << "measured: refused -> online " << ms_since(t0) << " ms after the master started listening\n";
  CHECK(agent.terminate() == 0);
}

TEST_CASE("master fault: a master name that does not resolve is retried, never fatal", "[faults]") {
  MasterSim like;
  const auto t0 = Clock::now();
  // In a network namespace of its own (loopback down, no route): the resolver's query to the
  // configured name server fails at once instead of leaving this machine.
  AgentProcess agent(like, nullptr,
                     {.env = {{"KONTENA_URL", "http://kontena-master.invalid:8080/"}},
                      .prefix = {"/usr/bin/unshare", "--net", "--"}});
  const bool retried = wait_until([&] { return count_of(agent.log(), "reconnecting in") >= 2; }, 20s);
  const auto log = agent.log();
  INFO(log);
  REQUIRE(retried);
  std::cerr << "measured: unresolvable name -> second retry scheduled after " << ms_since(t0) << " ms\n";
  CHECK(log.find("failed to connect to the master at ws://kontena-master.invalid:8080/") != std::string::npos);
  CHECK(agent.process->running());
  CHECK(agent.terminate() == 0);
}

TEST_CASE("master fault: a certificate for another name is refused unless KONTENA_SSL_HOSTNAME names it", "[faults]") {
  MasterSim like;
  TempDir dir;
  const auto files = make_tls_files(dir.path(), {"DNS:master.kontena.invalid"});
  BareSim sim(dir, like, 0, {"--tls-cert", files.cert.string(), "--tls-key", files.key.string()});
  std::vector<std::pair<std::string, std::string>> env{
      {"KONTENA_URL", "https://127.0.0.1:" + std::to_string(sim.port) + "/"}, {"SSL_CERT_FILE", files.ca_cert.string()}};

  SECTION("the name does not match: refused, retried, never joined") {
    AgentProcess agent(like, nullptr, {.env = env});
    const bool refused = wait_until([&] { return count_of(agent.log(), "TLS certificate verification failed") >= 2; }, 15s);
    INFO(agent.log());
    CHECK(refused);
    CHECK(agent.log().find("IP address mismatch for '127.0.0.1'") != std::string::npos);  // by IP: the SAN is a name
    CHECK(sim.log().find("handshake accepted") == std::string::npos);
    CHECK(agent.process->running());
    CHECK(agent.terminate() == 0);
  }
  SECTION("configured: KONTENA_SSL_HOSTNAME is the certificate's name") {
    env.emplace_back("KONTENA_SSL_HOSTNAME", "master.kontena.invalid");
    const auto t0 = Clock::now();
    AgentProcess agent(like, nullptr, {.env = env});
    const bool joined = wait_until([&] { return sim.log().find("handshake accepted") != std::string::npos; }, 10s);
    INFO(agent.log());
    CHECK(joined);
    std::cerr << "measured: TLS with KONTENA_SSL_HOSTNAME -> joined in " << ms_since(t0) << " ms\n";
    CHECK(agent.terminate() == 0);
  }
}

TEST_CASE("master fault: a master that never answers the upgrade times out after 10 s and is retried", "[faults]") {
  MasterSim like;
  LoopbackPort mute(true);
  const auto t0 = Clock::now();
  AgentProcess agent(like, nullptr, {.env = {{"KONTENA_URL", "http://127.0.0.1:" + std::to_string(mute.port()) + "/"}}});
  const bool gave_up = wait_until([&] { return count_of(agent.log(), "reconnecting in") >= 1; }, 25s);
  const auto elapsed = ms_since(t0);
  INFO(agent.log());
  REQUIRE(gave_up);
  std::cerr << "measured: mute upgrade -> dropped and retried after " << elapsed << " ms\n";
  CHECK(elapsed >= 9'000);  // the open timeout of kontena-websocket-client, not earlier
  CHECK(agent.log().find("failed to connect to the master") != std::string::npos);
  CHECK(agent.process->running());
  CHECK(agent.terminate() == 0);
}

TEST_CASE("master fault: a master that upgrades and then says nothing is left after 30 s - the agent joins later",
          "[faults]") {
  MasterSim master;
  // A full grid: the master only logs "Grid is full?" and leaves the socket open and silent
  // (kontena v1.5.4: server/app/services/agent/node_plugger.rb, websocket_backend.rb).
  for (int i = 1; i <= 254; ++i) master.create_node("n" + std::to_string(i));
  const auto t0 = Clock::now();
  AgentProcess agent(master, nullptr, {.name = "node-late"});
  const bool left = wait_until([&] { return agent.log().find("sent no /agent/master_info") != std::string::npos; }, 45s);
  const auto detected = ms_since(t0);
  INFO(agent.log());
  REQUIRE(left);
  std::cerr << "measured: silent master -> connection dropped after " << detected << " ms\n";
  CHECK(master.stats()["unregistered"].get<int>() >= 1);
  CHECK(agent.process->running());
  master.remove_node("n254");
  const auto t1 = Clock::now();
  const bool online = master.wait_for_status("node-late", "online", 10s);
  CHECK(online);
  std::cerr << "measured: silent master -> online " << ms_since(t1) << " ms after the grid had room\n";
  CHECK(agent.terminate() == 0);
}

TEST_CASE("master fault: half-open - the master stops reading, the agent's pings go unanswered, it reconnects",
          "[faults]") {
  MasterSim master;
  AgentProcess agent(master, nullptr,
                     {.env = {{"KONTENA_PING_INTERVAL", "200ms"}, {"WEBSOCKET_TIMEOUT", "500ms"},
                              {"KONTENA_STATS_INTERVAL", "200ms"}}});
  REQUIRE(master.wait_for_status(agent.name, "online", 10s));
  // After the next frame the master's read loop pauses for a minute: the connection stays
  // open but nothing on it answers, as after a lost peer behind a NAT.
  master.configure({{"read_delay_ms", 60'000}});
  const auto t0 = Clock::now();
  const bool dropped = wait_until([&] { return agent.log().find("no pong within") != std::string::npos; }, 10s);
  const auto detected = ms_since(t0);
  master.configure({{"read_delay_ms", 0}});
  INFO(agent.log());
  REQUIRE(dropped);
  const bool back = wait_until([&] { return master.stats()["accepted"].get<int>() >= 2; }, 10s) &&
                    master.wait_for_status(agent.name, "online", 10s);
  CHECK(back);
  std::cerr << "measured: half-open -> detected after " << detected << " ms, online again after " << ms_since(t0)
            << " ms\n";
  CHECK(agent.process->running());
  CHECK(agent.terminate() == 0);
}

TEST_CASE("master fault: garbage and wrongly shaped frames are dropped - the link stays up", "[faults]") {
  MasterSim master;
  AgentProcess agent(master, nullptr);
  REQUIRE(master.wait_for_status(agent.name, "online", 10s));
  const std::vector<std::vector<std::uint8_t>> frames{
      {0xc1},                                              // a byte MessagePack never uses
      {0xde, 0xad, 0xbe, 0xef, 0x00, 0xff},                // random bytes
      {0x94, 0x00},                                        // an array of 4 cut short
      msgpack(json::array()),                              // []
      msgpack(json::array({0})),                           // a request with nothing else
      msgpack(json::array({9, 1, "/x", json::array()})),   // an unknown message type
      msgpack(json{{"type", 0}}),                          // a map, not an array
      msgpack("just a string"),
      msgpack(json::array({0, "id", "/etcd/health", json::array()})),         // id not an integer
      msgpack(json::array({0, 7, 42, json::array()})),                        // method not a string
      msgpack(json::array({0, -5, "/etcd/health", json::array()})),           // negative id
      msgpack(json::array({1, 123456, nullptr, nullptr})),                    // a response nobody asked for
      msgpack(json::array({1, "x", json::object(), json::array()})),          // response with a wrong id type
      msgpack(json::array({2, nullptr, json::array()})),                      // notification without method
      msgpack(json::array({2, "/agent/node_info", "not params"})),            // params not an array
      msgpack(json::array({2, "/agent/node_info", json::array({"not a node"})})),
      msgpack(json::array({2, "/agent/master_info", json::array({42})})),
      msgpack(json::array({2, "/agent/master_info", json::array({{{"version", 1.5}}})})),
      msgpack(json::array({2, "/agent/node_info", json::array({{{"id", 5}, {"name", json::array()}, {"labels", "x"}}})})),
  };
  for (const auto& f : frames) send_raw(master, agent.name, f);
  send_raw(master, agent.name, {'h', 'e', 'l', 'l', 'o'}, 0, true);  // a text frame
  send_raw(master, agent.name, {0x94}, 1U << 20U);                    // 1 MiB of garbage, under the frame limit
  require_link_intact(master, agent);
  CHECK(agent.terminate() == 0);
}

TEST_CASE("master fault: a frame over the 16 MiB limit drops the link - the agent reconnects", "[faults]") {
  MasterSim master;
  AgentProcess agent(master, nullptr);
  REQUIRE(master.wait_for_status(agent.name, "online", 10s));
  const auto t0 = Clock::now();
  send_raw(master, agent.name, msgpack(json::array({2, "/agent/node_info", json::array()})), (16U << 20U) + 1024U);
  const bool back = wait_until([&] { return master.stats()["accepted"].get<int>() >= 2; }, 15s) &&
                    master.wait_for_status(agent.name, "online", 10s);
  INFO(agent.log());
  CHECK(back);
  std::cerr << "measured: oversized frame -> online again after " << ms_since(t0) << " ms\n";
  require_link_intact(master, agent, master.stats()["handshakes"].get<int>());
  CHECK(agent.terminate() == 0);
}

namespace {

// Well-formed params of each master -> agent request the agent serves, as the master sends
// them (kontena v1.5.4: server/app/services/rpc_client.rb callers). The test checks this
// list against the agent's own ("serving master requests: ..." in its debug log), so a newly
// served method without an example here fails the test instead of going untested.
const std::vector<std::pair<std::string, json>>& served_requests() {
  static const std::vector<std::pair<std::string, json>> k{
      {"/service_pods/notify_update", json::array({"update"})},
      {"/service_pods/restart", json::array({"5b6c0e", 1})},
      {"/volumes/notify_update", json::array({json::array()})},
      {"/containers/create_exec", json::array({"c0ffee"})},
      {"/containers/run_exec", json::array({"exec-1", json::array({"sh", "-c", "true"}), false, false})},
      {"/containers/tty_input", json::array({"exec-1", "ls\n"})},
      {"/containers/tty_resize", json::array({"exec-1", {{"width", 80}, {"height", 24}}})},
      {"/containers/terminate_exec", json::array({"exec-1"})},
      {"/containers/exec", json::array({"c0ffee", json::array({"true"}), json::object()})},
      {"/containers/inspect", json::array({"c0ffee"})},
  };
  return k;
}

// One value of every MessagePack type, plus edge values a decoder trips on.
std::vector<json> wrong_values(const json& original) {
  std::vector<json> all{nullptr,  true,  std::int64_t{-1}, std::uint64_t{1} << 40U, 1.5, "",
                        std::string(70'000, 'x'), json::array(), json::array({json::array({1})}), json::object(),
                        json::binary({1, 2, 3})};
  std::vector<json> out;
  for (auto& v : all) {
    if (v.type() != original.type() || v.is_number()) out.push_back(v);
  }
  return out;
}

// Every way to break `params` by one value: the whole, each element, each element of an
// array or object inside it, each replaced by each wrong value; plus an element missing and
// one too many.
std::vector<json> mutations(const json& params) {
  std::vector<json> out;
  for (const auto& v : wrong_values(params)) out.push_back(v);
  for (std::size_t i = 0; i < params.size(); ++i) {
    for (const auto& v : wrong_values(params[i])) {
      json p = params;
      p[i] = v;
      out.push_back(p);
    }
    if (params[i].is_array() || params[i].is_object()) {
      for (auto it = params[i].begin(); it != params[i].end(); ++it) {
        for (const auto& v : wrong_values(*it)) {
          json p = params;
          if (params[i].is_array()) {
            p[i][static_cast<std::size_t>(std::distance(params[i].begin(), it))] = v;
          } else {
            p[i][it.key()] = v;
          }
          out.push_back(p);
        }
      }
    }
  }
  if (!params.empty()) {
    json shorter = params;
    shorter.erase(shorter.size() - 1);
    out.push_back(shorter);
  }
  json longer = params;
  longer.push_back("extra");
  out.push_back(longer);
  return out;
}

}  // namespace

TEST_CASE("master fault: every served RPC with every field of the wrong type gets a reply - the link stays up",
          "[faults]") {
  MasterSim master;
  AgentProcess agent(master, nullptr);
  REQUIRE(master.wait_for_status(agent.name, "online", 10s));
  std::smatch served_line;
  const auto log = agent.log();
  REQUIRE(std::regex_search(log, served_line, std::regex("serving master requests: ([^\\n]*)")));
  std::set<std::string> served;
  std::istringstream words(served_line[1].str());
  for (std::string w; words >> w;) served.insert(w);
  std::set<std::string> covered;
  for (const auto& entry : served_requests()) covered.insert(entry.first);
  CHECK(covered == served);
  std::size_t sent = 0;
  std::size_t errors = 0;
  for (const auto& [method, good] : served_requests()) {
    // The method is served (a 501 means the list above no longer matches the agent).
    const auto baseline = master.request(agent.name, method, good, 10s);
    CAPTURE(method, baseline.dump());
    CHECK((baseline["error"].is_null() || baseline["error"].value("code", 0) != 501));
    for (const auto& params : mutations(good)) {
      CAPTURE(params.dump().substr(0, 300));
      json reply;
      try {
        reply = master.request(agent.name, method, params, 10s);
      } catch (const std::exception& e) {
        FAIL_CHECK("no reply: " << e.what());
        continue;
      }
      ++sent;
      CHECK((reply.contains("error") && reply.contains("result")));
      if (!reply["error"].is_null()) {
        ++errors;
        CHECK(reply["error"].value("code", 0) != 501);
        CHECK(reply["error"].dump().find(std::string(70'000, 'x')) == std::string::npos);  // no echo of the input
      }
    }
  }
  // Notifications of the master with wrongly typed params: dropped, not fatal.
  for (const auto& method : {"/agent/master_info", "/agent/node_info", "/service_pods/notify_update",
                             "/volumes/notify_update"}) {
    const json good = std::string(method) == "/agent/master_info" ? json::array({{{"version", "1.5.4"}}})
                                                                    : json::array({"update"});
    for (const auto& params : mutations(good)) {
      send_raw(master, agent.name, msgpack(json::array({2, method, params})));
      ++sent;
    }
  }
  std::cerr << "measured: " << sent << " wrongly typed frames, " << errors
            << " answered with an error; link intact afterwards\n";
  CHECK(sent > 150);
  require_link_intact(master, agent);
  CHECK(agent.terminate() == 0);
}

TEST_CASE("master fault: a master restarting in a loop - the agent is back online after each start", "[faults]") {
  MasterSim like;
  TempDir dir;
  auto sim = std::make_unique<BareSim>(dir, like, 0);
  const int port = sim->port;
  AgentProcess agent(like, nullptr, {.env = {{"KONTENA_URL", "http://127.0.0.1:" + std::to_string(port) + "/"}}});
  REQUIRE(wait_until([&] { return sim->node_status(agent.name) == "online"; }, 10s));
  long long worst = 0;
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    sim->process->signal(round % 2 == 0 ? SIGKILL : SIGTERM);  // an abrupt reset, then a clean stop
    REQUIRE(sim->process->wait_for(5s).has_value());
    sim.reset();
    const auto t0 = Clock::now();
    sim = std::make_unique<BareSim>(dir, like, port);
    const bool back = wait_until([&] { return sim->node_status(agent.name) == "online"; }, 10s);
    INFO(agent.log());
    REQUIRE(back);
    worst = std::max(worst, ms_since(t0));
  }
  std::cerr << "measured: restart loop of 5 -> online again within " << worst << " ms of each start (worst)\n";
  CHECK(agent.process->running());
  CHECK(count_of(agent.log(), "reconnecting in") < 60);  // backoff, no busy loop
  CHECK(agent.terminate() == 0);
}

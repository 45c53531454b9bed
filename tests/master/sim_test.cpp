// Tests of the Kontena master simulator itself (tests/master_sim/), driven by a minimal
// WebSocket agent (sim_agent.hpp, Beast), so the agent-link tests can trust it: every
// handshake rule and close code of docs/protocol.md, the RPC replies, the
// keepalive, the REST API and TLS.
#include "support/catch_result.hpp"
#include "support/master_sim.hpp"

#include "handshake.hpp"
#include "kontena_time.hpp"
#include "sim_agent.hpp"
#include "version_rule.hpp"

#include "master/msgpack_rpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <sys/socket.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <thread>

using namespace sim_agent;  // NOLINT(google-build-using-namespace)

TEST_CASE("version rule: ~> MAJOR.MINOR.0 with RubyGems ordering", "[master_sim]") {
  using kn::master_sim::agent_version_compatible;
  CHECK(kn::master_sim::version_requirement("1.5.4") == "~> 1.5.0");
  CHECK(kn::master_sim::version_requirement("1.6.0.dev") == "~> 1.6.0.dev");
  // The example of websocket_backend_spec.rb: master 0.9.1.
  CHECK(agent_version_compatible("0.9.1", "0.9.0"));
  CHECK(agent_version_compatible("0.9.1", "0.9.1"));
  CHECK(agent_version_compatible("0.9.1", "0.9.2"));
  CHECK_FALSE(agent_version_compatible("0.9.1", "0.8.4"));
  CHECK_FALSE(agent_version_compatible("0.9.1", "1.0.1"));
  CHECK(agent_version_compatible("1.5.4", "1.5.0"));
  CHECK(agent_version_compatible("1.5.4", "1.5.17"));
  CHECK_FALSE(agent_version_compatible("1.5.4", "1.5.0.rc1"));
  CHECK_FALSE(agent_version_compatible("1.5.4", "1.6.0"));
  CHECK_FALSE(agent_version_compatible("1.5.4", ""));
  CHECK_FALSE(agent_version_compatible("1.5.4", "latest"));
  CHECK(agent_version_compatible("1.6.0.dev", "1.6.0"));
}

TEST_CASE("Kontena time stamps round-trip and parse like the master", "[master_sim]") {
  using namespace kn::master_sim;
  const auto t = parse_kontena_time("2018-08-10 12:34:56.123456789Z");
  REQUIRE(t);
  CHECK(format_kontena_time(*t) == "2018-08-10 12:34:56.123456789Z");
  CHECK(parse_kontena_time("2018-08-10T14:34:56.123456789+02:00") == t);
  CHECK(parse_kontena_time("2018-08-10 12:34:56 UTC"));
  CHECK_FALSE(parse_kontena_time("yesterday"));
  CHECK_FALSE(parse_kontena_time("2018-13-10 12:34:56Z"));
}

TEST_CASE("an agent with correct headers is accepted and plugged and goes online", "[master_sim]") {
  MasterSim sim;
  Agent agent(sim, agent_headers(sim));
  REQUIRE(agent.ok);
  CHECK(agent.status() == 101);
  CHECK(agent.response_header("Kontena-Version") == "1.5.4");
  const auto master_time = kn::master_sim::parse_kontena_time(agent.response_header("Kontena-Connected-At"));
  REQUIRE(master_time);
  CHECK(std::chrono::abs(kn::master_sim::now() - *master_time) < 60s);

  // master_info first, then node_info with id = the node id.
  auto first = agent.next();
  REQUIRE(first.kind == Event::Kind::message);
  auto* info = std::get_if<kn::rpc::Notification>(&*first.message);
  REQUIRE(info != nullptr);
  CHECK(info->method == "/agent/master_info");
  CHECK(info->params == Json::array({{{"version", "1.5.4"}}}));
  auto node_info = agent.notification("/agent/node_info");
  CHECK(node_info.params[0]["id"] == "AAAA:BBBB:CCCC:DDDD:EEEE:FFFF:0000:1111:2222:3333:4444:5555");
  CHECK(node_info.params[0]["name"] == "node-1");
  CHECK(node_info.params[0]["node_number"] == 1);
  CHECK(node_info.params[0]["grid"]["name"] == "test");

  auto node = sim.node("node-1");
  CHECK(node["status"] == "connecting");
  CHECK(node["connected"] == true);
  CHECK(node["labels"] == Json::array({"region=eu-central-1", "az=a", "ephemeral=true"}));
  CHECK(node["handshake_headers"]["Kontena-Grid-Token"] == "<present>");
  CHECK(node["handshake_headers"]["Kontena-Node-Name"] == "node-1");

  agent.send(kn::rpc::Request{7, "/nodes/update", Json::array({node["node_id"], update_info("node-1")})});
  auto reply = agent.response(7);
  CHECK(reply.error.is_null());
  CHECK(reply.result == true);
  node = sim.node("node-1");
  CHECK(node["status"] == "online");
  CHECK(node["updates_count"] == 1);
  CHECK(node["info"]["KernelVersion"] == "6.1.0");
  CHECK(node["os"] == "Flatcar Container Linux");
  // Header labels were set at creation, so Docker's labels are not copied.
  CHECK(node["labels"].size() == 3);

  agent.send(kn::rpc::Notification{"/nodes/stats", Json::array({node["node_id"], {{"memory", {{"total", 1}}}}})});
  CHECK(MasterSim::wait_until([&] { return sim.node("node-1")["stats_count"] == 1; }));

  // A node looked up by node id (contains ':').
  CHECK(sim.node("AAAA:BBBB:CCCC:DDDD:EEEE:FFFF:0000:1111:2222:3333:4444:5555")["name"] == "node-1");
  CHECK(sim.stats()["accepted"] == 1);
  CHECK(sim.stats()["connections"] == 1);
  CHECK(sim.log().find(sim.grid_token()) == std::string::npos);
}

TEST_CASE("the node's labels come from /nodes/update only when it has none", "[master_sim]") {
  MasterSim sim;
  auto headers = agent_headers(sim);
  headers.erase("Kontena-Node-Labels");
  Agent agent(sim, headers);
  join(agent);
  agent.send(kn::rpc::Request{1, "/nodes/update", Json::array({headers["Kontena-Node-Id"], update_info("node-1")})});
  CHECK(agent.response(1).result == true);
  CHECK(sim.node("node-1")["labels"] == Json::array({"from-docker=1"}));
}

TEST_CASE("each handshake rejection closes with its code", "[master_sim]") {
  MasterSim sim;
  const auto token_node = sim.create_node("token-node", "node-token-0123456789abcdef", {"made=api"});
  auto base = agent_headers(sim);

  struct Case {
    std::string name;
    std::function<void(Headers&)> change;
    int code;
  };
  const std::vector<Case> cases = {
      {"missing node id", [](Headers& h) { h.erase("Kontena-Node-Id"); }, 4000},
      {"missing node name", [](Headers& h) { h.erase("Kontena-Node-Name"); }, 4000},
      {"missing token", [](Headers& h) { h.erase("Kontena-Grid-Token"); }, 4004},
      {"wrong grid token", [](Headers& h) { h["Kontena-Grid-Token"] = "wrong"; }, 4001},
      {"unknown node token",
       [](Headers& h) {
         h.erase("Kontena-Grid-Token");
         h["Kontena-Node-Token"] = "no-such-token-0123456789";
       },
       4002},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto h = base;
    c.change(h);
    Agent agent(sim, h);
    REQUIRE(agent.ok);  // the master upgrades first and rejects with a close frame
    CHECK(agent.close_code() == c.code);
  }
  const auto stats = sim.stats();
  CHECK(stats["rejections"]["4000"] == 2);
  CHECK(stats["rejections"]["4004"] == 1);
  CHECK(stats["rejections"]["4001"] == 1);
  CHECK(stats["rejections"]["4002"] == 1);
  CHECK(stats["last_rejection"]["handshake_headers"]["Kontena-Node-Token"] == "<present>");
  CHECK(sim.nodes().size() == 1);  // only the API-created node; rejections created none

  // Node-token paths: claim, then 4003 (claimed by another id), 4006 (id taken), 4005.
  auto claim = base;
  claim.erase("Kontena-Grid-Token");
  claim["Kontena-Node-Token"] = token_node["token"];
  claim["Kontena-Node-Id"] = "TOKN:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001";
  {
    Agent agent(sim, claim);
    join(agent);
    auto node = sim.node("token-node");
    CHECK(node["node_id"] == claim["Kontena-Node-Id"]);
    // Header labels are added to the API labels on first claim.
    CHECK(node["labels"] == Json::array({"made=api", "region=eu-central-1", "az=a", "ephemeral=true"}));
  }
  {
    auto other = claim;
    other["Kontena-Node-Id"] = "OTHR:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0002";
    Agent agent(sim, other);
    CHECK(agent.close_code() == 4003);
  }
  {
    // A grid-token node holds this id; a fresh token node cannot claim it.
    Agent grid_agent(sim, base);
    join(grid_agent);
    const auto fresh = sim.create_node("fresh");
    auto h = claim;
    h["Kontena-Node-Token"] = fresh["token"];
    h["Kontena-Node-Id"] = base["Kontena-Node-Id"];
    Agent agent(sim, h);
    CHECK(agent.close_code() == 4006);
  }
  {
    auto h = base;
    h["Kontena-Node-Id"] = claim["Kontena-Node-Id"];
    Agent agent(sim, h);
    CHECK(agent.close_code() == 4005);
  }
}

TEST_CASE("an incompatible agent version gets master_info and then 4010", "[master_sim]") {
  MasterSim sim;
  for (const std::string version : {"1.4.9", "1.6.0", "1.5.0.rc1", "1.5.4.rc1", "2.5.4", ""}) {
    INFO(version);
    auto h = agent_headers(sim);
    h["Kontena-Version"] = version;
    Agent agent(sim, h);
    REQUIRE(agent.ok);
    auto info = agent.notification("/agent/master_info");
    CHECK(info.params[0]["version"] == "1.5.4");
    CHECK(agent.close_code() == 4010);
  }
  for (const std::string version : {"1.5.0", "1.5.9"}) {
    INFO(version);
    auto h = agent_headers(sim, "ok-" + version, "VERS:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:" +
                                                     std::string(version == "1.5.0" ? "0150" : "0159"));
    h["Kontena-Version"] = version;
    Agent agent(sim, h);
    join(agent);
  }
  CHECK(sim.stats()["rejections"]["4010"] == 6);
  CHECK(sim.nodes().size() == 2);
}

TEST_CASE("Kontena-Connected-At must be within 6 s past and 1 s future", "[master_sim]") {
  MasterSim sim;
  {
    auto h = agent_headers(sim, "late", "LATE:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001");
    h["Kontena-Connected-At"] = kontena_time(-10s);
    Agent agent(sim, h);
    CHECK(agent.close_code() == 4020);
    auto node = sim.node("late");  // created before the clock check, rejection recorded
    CHECK(node["close_code"] == 4020);
    CHECK(node["connected"] == false);
  }
  {
    auto h = agent_headers(sim, "early", "ERLY:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001");
    h["Kontena-Connected-At"] = kontena_time(5s);
    Agent agent(sim, h);
    CHECK(agent.close_code() == 4020);
  }
  {
    auto h = agent_headers(sim, "slightly-late", "SLAT:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001");
    h["Kontena-Connected-At"] = kontena_time(-3s);
    Agent agent(sim, h);
    join(agent);
  }
  sim.configure({{"clock_skew_past_ms", 1000}});
  {
    auto h = agent_headers(sim, "slightly-late-2", "SLA2:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001");
    h["Kontena-Connected-At"] = kontena_time(-3s);
    Agent agent(sim, h);
    CHECK(agent.close_code() == 4020);
  }
  CHECK(sim.stats()["rejections"]["4020"] == 3);
}

TEST_CASE("a missing Kontena-Connected-At leaves the socket open and unregistered", "[master_sim]") {
  MasterSim sim;
  auto h = agent_headers(sim);
  h.erase("Kontena-Connected-At");
  Agent agent(sim, h);
  REQUIRE(agent.ok);
  CHECK(agent.next(500ms).kind == Event::Kind::timeout);  // no master_info, no close
  CHECK(sim.stats()["unregistered"] == 1);
  CHECK(sim.node("node-1")["status"] == "offline");
}

TEST_CASE("unknown requests get 501 and /nodes/update for an unknown node gets Missing HostNode", "[master_sim]") {
  MasterSim sim;
  Agent agent(sim, agent_headers(sim));
  join(agent);
  agent.send(kn::rpc::Request{11, "/node_volumes/frobnicate", Json::array()});
  auto r = agent.response(11);
  CHECK(r.error == Json({{"code", 501}, {"error", "service not implemented"}}));
  agent.send(kn::rpc::Request{12, "/nodes/update", Json::array({"NOPE:0000", update_info("x")})});
  // NodeHandler raises a RuntimeError; RpcServer answers {code: 500, message: "Class: msg"}.
  CHECK(agent.response(12).error == Json({{"code", 500}, {"message", "RuntimeError: Missing HostNode: NOPE:0000"}}));
  agent.send_text("not msgpack");
  CHECK(MasterSim::wait_until([&] { return sim.stats()["dropped_frames"] == 1; }));
}

TEST_CASE("the simulator relays a request to the agent and returns its answer", "[master_sim]") {
  MasterSim sim;
  Agent agent(sim, agent_headers(sim));
  join(agent);
  Json relayed;
  std::thread rest([&] { relayed = sim.request("node-1", "/etcd/health", Json::array(), 5s); });
  auto req = agent.request();
  CHECK(req.method == "/etcd/health");
  agent.send(kn::rpc::not_implemented(req.id));
  rest.join();
  CHECK(relayed["error"]["code"] == 501);
  CHECK(relayed["result"].is_null());
}

TEST_CASE("raw frames: the bytes arrive as sent, padded when asked - bad input is refused", "[master_sim]") {
  MasterSim sim;
  Agent agent(sim, agent_headers(sim));
  join(agent);
  // [2, "/x", []]: a notification, sent byte for byte.
  auto sent = sim.rest("POST", "/v1/_sim/raw", {{"node", "node-1"}, {"hex", "9302a22f7890"}});
  CHECK(sent.status == 200);
  CHECK(agent.notification("/x").params == Json::array());
  CHECK(sim.rest("POST", "/v1/_sim/raw", {{"node", "node-1"}, {"hex", "9g"}}).status == 422);
  CHECK(sim.rest("POST", "/v1/_sim/raw", {{"node", "node-1"}, {"hex", "930"}}).status == 422);
  CHECK(sim.rest("POST", "/v1/_sim/raw", {{"node", "node-1"}, {"pad_to", 1ULL << 40U}}).status == 422);
  CHECK(sim.rest("POST", "/v1/_sim/raw", {{"node", "nobody"}, {"hex", "c0"}}).status == 404);
}

TEST_CASE("keepalive: pongs update last_seen_at and silence closes 4030", "[master_sim]") {
  MasterSim sim({.args = {"--ping-interval", "200ms", "--pong-timeout", "300ms"}});
  Agent reader(sim, agent_headers(sim));
  join(reader);
  const auto seen = sim.node("node-1")["last_seen_at"];
  CHECK(reader.next(1s).kind == Event::Kind::timeout);  // reading answers the pings
  CHECK(sim.node("node-1")["last_seen_at"] != seen);
  CHECK(sim.node("node-1")["connected"] == true);

  Agent silent(sim, agent_headers(sim, "silent", "SLNT:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001"));
  REQUIRE(silent.ok);
  // Not reading: no pongs, so the master gives up on it and sends a close frame.
  CHECK(MasterSim::wait_until([&] { return silent.close_pending(4030); }));
  CHECK(silent.close_code() == 4030);
  CHECK(MasterSim::wait_until([&] { return sim.node("silent")["close_code"] == 4030; }));
  CHECK(sim.node("silent")["status"] == "offline");
}

TEST_CASE("a newer connection of the same node wins and the older one is closed 4041", "[master_sim]") {
  MasterSim sim({.args = {"--ping-interval", "200ms"}});
  auto h = agent_headers(sim);
  Agent old_agent(sim, h);
  join(old_agent);
  h["Kontena-Connected-At"] = kontena_time();
  Agent new_agent(sim, h);
  join(new_agent);
  CHECK(old_agent.close_code() == 4041);
  CHECK(new_agent.next(700ms).kind == Event::Kind::timeout);  // still open
  const auto node = sim.node("node-1");
  CHECK(node["connected"] == true);  // the stale close does not unplug the node
  CHECK(node["connected_at"] == h["Kontena-Connected-At"]);
}

TEST_CASE("REST: nodes and auth and PUT and DELETE closing 4040 and /v1/_sim/close", "[master_sim]") {
  MasterSim sim({.api_token = "api-secret-token"});
  auto root = sim.rest("GET", "/", nullptr, false);
  CHECK(root.status == 200);
  CHECK(root.body == Json({{"name", "Kontena Master"}, {"version", "1.5.4"}}));
  CHECK(root.header_kontena_version == "1.5.4");
  CHECK(sim.rest("GET", "/v1/ping", nullptr, false).body == Json({{"message", "pong"}}));
  CHECK(sim.rest("GET", "/v1/grids/test/nodes", nullptr, false).status == 401);
  CHECK(sim.rest("GET", "/v1/grids/test/nodes").status == 200);
  CHECK(sim.rest("GET", "/no/such/route").status == 404);
  CHECK(sim.rest("POST", "/v1/grids/test/nodes", {{"name", "short"}, {"token", "too-short"}}).status == 422);

  Agent a(sim, agent_headers(sim, "dup", "DUP1:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001"));
  join(a);
  Agent b(sim, agent_headers(sim, "dup", "DUP2:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0002"));
  join(b);
  CHECK(sim.node("DUP2:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0002")["name"] == "dup-2");

  auto updated = sim.update_node("dup", {{"labels", {"az=b"}}, {"availability", "drain"}});
  CHECK(updated["labels"] == Json::array({"az=b"}));
  // The grid is re-notified: node_info with the new labels.
  CHECK(a.notification("/agent/node_info").params[0]["labels"] == Json::array({"az=b"}));
  CHECK(sim.rest("PUT", "/v1/nodes/test/dup", {{"availability", "sideways"}}).status == 422);

  sim.remove_node("dup");
  CHECK(a.close_code() == 4040);
  CHECK(sim.node("dup").is_null());

  CHECK(sim.close("dup-2", 4041, "test conflict")["closed"] == 1);
  CHECK(b.close_code() == 4041);
  CHECK(b.last_close_reason == "test conflict");
  CHECK(MasterSim::wait_until([&] { return sim.node("dup-2")["close_code"] == 4041; }));
  CHECK(sim.node("dup-2")["connected"] == false);
  CHECK(sim.node("dup-2")["close_reason"] == "test conflict");
}

TEST_CASE("only the path / upgrades", "[master_sim]") {
  MasterSim sim;
  Agent agent(sim, agent_headers(sim), "/v1/ping");
  CHECK_FALSE(agent.ok);
  CHECK(agent.status() == 200);
  CHECK(sim.stats()["handshakes"] == 0);
}

TEST_CASE("cleanup: stale nodes become disconnected (4031 on the next pong) and old ephemeral nodes are destroyed",
          "[master_sim]") {
  MasterSim sim({.args = {"--ping-interval", "1h"}});
  Agent keeper(sim, agent_headers(sim, "initial", "INIT:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001"));
  join(keeper);
  Agent eph(sim, agent_headers(sim, "eph", "EPHM:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001"));
  join(eph);
  sim.configure({{"stale_after_ms", 100}, {"cleanup_interval_ms", 100}});
  CHECK(MasterSim::wait_until([&] { return sim.node("eph")["connected"] == false; }));
  sim.configure({{"ping_interval_ms", 100}});
  CHECK(eph.close_code() == 4031);
  CHECK(keeper.close_code() == 4031);
  sim.configure({{"destroy_after_ms", 100}, {"destroy_interval_ms", 100}});
  // node 1 is initial (initial_size 1) and stays; node 2 is ephemeral and goes.
  CHECK(MasterSim::wait_until([&] { return sim.node("eph").is_null(); }));
  CHECK_FALSE(sim.node("initial").is_null());
}

TEST_CASE("TLS: wss and https with a certificate for 127.0.0.1 signed by a test CA", "[master_sim]") {
  MasterSim sim({.tls = true});
  CHECK(sim.url().rfind("https://127.0.0.1:", 0) == 0);
  CHECK(sim.rest("GET", "/v1/ping").body["message"] == "pong");
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.load_verify_file(sim.ca_file().string());
  TlsAgent agent(tls, sim, agent_headers(sim));
  REQUIRE(agent.ok);
  agent.notification("/agent/master_info");
  CHECK(agent.notification("/agent/node_info").params[0]["name"] == "node-1");
}

TEST_CASE("the simulator refuses non-loopback addresses and exits 0 on SIGTERM", "[master_sim]") {
  kn::test::TempDir dir;
  {
    std::ofstream(dir / "token") << "t0k3n\n";
  }
  for (const std::string addr : {"0.0.0.0", "10.1.2.3", "::"}) {
    auto r = kn::test::run({kn::test::binary("kontena-master-sim"), "--listen", addr, "--grid-token-file",
                            (dir / "token").string()},
                           {}, 10s);
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("loopback only") != std::string::npos);
  }
  MasterSim sim;
  CHECK(sim.stop() == 0);
}

TEST_CASE("version verdicts: pre-releases fail a release master, unparsable versions are malformed",
          "[master_sim]") {
  using kn::master_sim::AgentVersion;
  using kn::master_sim::check_agent_version;
  CHECK(check_agent_version("1.5.4", "1.5.4") == AgentVersion::compatible);
  // Gem::Dependency#match? refuses a pre-release unless the requirement is one.
  CHECK(check_agent_version("1.5.4", "1.5.4.rc1") == AgentVersion::incompatible);
  CHECK(check_agent_version("1.5.4", "1.5.9-beta") == AgentVersion::incompatible);
  CHECK(check_agent_version("1.6.0.dev", "1.6.0.rc1") == AgentVersion::compatible);
  // Blank reads as "0".
  CHECK(check_agent_version("1.5.4", "") == AgentVersion::incompatible);
  // Gem::Version.new raises: the master only logs it.
  CHECK(check_agent_version("1.5.4", "latest") == AgentVersion::malformed);
  CHECK(check_agent_version("1.5.4", "1.5.") == AgentVersion::malformed);
  CHECK(check_agent_version("1.5.4", "v1.5.4") == AgentVersion::malformed);
}

TEST_CASE("an unparsable agent version leaves the socket open and silent and creates no node", "[master_sim]") {
  MasterSim sim;
  auto h = agent_headers(sim);
  h["Kontena-Version"] = "latest";
  Agent agent(sim, h);
  REQUIRE(agent.ok);
  CHECK(agent.next(500ms).kind == Event::Kind::timeout);  // no master_info, no close
  CHECK(sim.stats()["unregistered"] == 1);
  CHECK(sim.stats()["rejections"].empty());
  CHECK(sim.nodes().empty());
  CHECK(sim.log().find("Malformed version number string latest") != std::string::npos);
}

TEST_CASE("a full grid only logs: the socket stays open and silent", "[master_sim]") {
  MasterSim sim;
  for (int i = 1; i <= 254; ++i) sim.create_node("n" + std::to_string(i));
  auto h = agent_headers(sim, "one-too-many", "FULL:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001");
  Agent agent(sim, h);
  REQUIRE(agent.ok);
  CHECK(agent.next(500ms).kind == Event::Kind::timeout);
  CHECK(sim.stats()["unregistered"] == 1);
  CHECK(sim.stats()["rejections"].empty());
  CHECK(sim.nodes().size() == 254);
}

TEST_CASE("a node token with the id of another node closes 4006, also when the token was claimed", "[master_sim]") {
  MasterSim sim;
  const auto a = sim.create_node("token-a", "node-token-aaaaaaaaaaaaaaaa");
  const auto b = sim.create_node("token-b", "node-token-bbbbbbbbbbbbbbbb");
  auto claim = [&](const std::string& token, const std::string& id) {
    auto h = agent_headers(sim, "x", id);
    h.erase("Kontena-Grid-Token");
    h["Kontena-Node-Token"] = token;
    return h;
  };
  const std::string id_a = "IDAA:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001";
  const std::string id_b = "IDBB:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0002";
  {
    Agent agent(sim, claim(a["token"], id_a));
    join(agent);
  }
  {
    Agent agent(sim, claim(b["token"], id_b));
    join(agent);
  }
  // Token A, already claimed by id_a, presented with id_b (node B's): the id lookup comes
  // first in find_node_by_node_token, so 4006 rather than 4003.
  Agent agent(sim, claim(a["token"], id_b));
  CHECK(agent.close_code() == 4006);
  CHECK(agent.last_close_reason == "Invalid node ID, already used by a different node");
}

TEST_CASE("the grid token is checked before the node token", "[master_sim]") {
  MasterSim sim;
  const auto token_node = sim.create_node("token-node", "node-token-0123456789abcdef");
  {
    // A valid grid token wins over a bogus node token: accepted as a grid-token node.
    auto h = agent_headers(sim, "both", "BOTH:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001");
    h["Kontena-Node-Token"] = "not-a-node-token-at-all";
    Agent agent(sim, h);
    join(agent);
    CHECK(sim.node("both")["has_token"] == false);
  }
  {
    // A bad grid token fails even beside a valid node token.
    auto h = agent_headers(sim, "both-2", "BOT2:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0002");
    h["Kontena-Grid-Token"] = "wrong";
    h["Kontena-Node-Token"] = token_node["token"];
    Agent agent(sim, h);
    CHECK(agent.close_code() == 4001);
  }
}

TEST_CASE("node_info times are Ruby Time#to_s of UTC", "[master_sim]") {
  MasterSim sim;
  Agent agent(sim, agent_headers(sim));
  REQUIRE(agent.ok);
  agent.notification("/agent/master_info");
  const auto info = agent.notification("/agent/node_info").params[0];
  const std::regex ruby_utc(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$)");
  CHECK(std::regex_match(info["created_at"].get<std::string>(), ruby_utc));
  CHECK(std::regex_match(info["updated_at"].get<std::string>(), ruby_utc));
}

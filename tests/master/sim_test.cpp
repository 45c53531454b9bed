// Tests of the Kontena master simulator itself (tests/master_sim/), driven by a minimal
// WebSocket agent written here with Beast, so the agent-link tests can trust it: every
// handshake rule and close code of docs/protocol.md, the RPC replies, the
// keepalive, the REST API and TLS.
#include "support/catch_result.hpp"
#include "support/master_sim.hpp"

#include "handshake.hpp"
#include "kontena_time.hpp"
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
#include <thread>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using kn::test::MasterSim;
using kn::test::MasterSimOptions;
using Json = nlohmann::json;
using Headers = std::map<std::string, std::string>;
using namespace std::chrono_literals;

std::string kontena_time(std::chrono::milliseconds offset = 0ms) {
  return kn::master_sim::format_kontena_time(kn::master_sim::now() + offset);
}

Headers agent_headers(const MasterSim& sim, const std::string& name = "node-1",
                      const std::string& id = "AAAA:BBBB:CCCC:DDDD:EEEE:FFFF:0000:1111:2222:3333:4444:5555") {
  return {{"Kontena-Node-Id", id},
          {"Kontena-Node-Name", name},
          {"Kontena-Version", "1.5.4"},
          {"Kontena-Node-Labels", "region=eu-central-1,az=a,ephemeral=true"},
          {"Kontena-Connected-At", kontena_time()},
          {"Kontena-Grid-Token", sim.grid_token()}};
}

// What the agent sees next: a message, the close (with its code), or nothing in time.
struct Event {
  enum class Kind { message, closed, timeout } kind = Kind::timeout;
  std::optional<kn::rpc::Message> message;
  int close_code = 0;
  std::string close_reason;
};

// A minimal Kontena agent: upgrade with the given headers, then read/write MessagePack-RPC
// frames. Reading answers the master's pings (Beast replies with pongs); not reading
// leaves them unanswered.
template <class NextLayer>
class TestAgent {
 public:
  static constexpr bool kTls = !std::is_same_v<NextLayer, beast::tcp_stream>;

  TestAgent(const MasterSim& sim, const Headers& headers, const std::string& target = "/")
    requires(!kTls)
      : ws_(io_) {
    ok = connect(sim, headers, target);
  }
  TestAgent(asio::ssl::context& tls, const MasterSim& sim, const Headers& headers)
    requires kTls
      : ws_(io_, tls) {
    ok = connect(sim, headers, "/");
  }

  bool ok = false;  // the upgrade succeeded (101)
  int status() const { return status_; }
  std::string response_header(const std::string& name) const {
    auto it = response_headers_.find(name);
    return it == response_headers_.end() ? std::string() : it->second;
  }

  // The next frame or close within `timeout`. On timeout the read stays pending (its state
  // lives in members) and the next call resumes it: cancelling a Beast read that is in the
  // middle of answering a ping can leave the stream waiting forever.
  Event next(std::chrono::milliseconds timeout = 5s) {
    Event ev;
    if (!reading_) {
      reading_ = true;
      read_done_ = false;
      buffer_.clear();
      ws_.async_read(buffer_, [this](beast::error_code e, std::size_t) {
        read_ec_ = e;
        read_done_ = true;
      });
    }
    io_.restart();
    io_.run_for(timeout);
    if (!read_done_) return ev;  // timeout
    reading_ = false;
    const auto ec = read_ec_;
    if (ec) {
      ev.kind = Event::Kind::closed;
      ev.close_code = ec == websocket::error::closed ? ws_.reason().code : 1006;
      ev.close_reason = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
      return ev;
    }
    ev.kind = Event::Kind::message;
    const auto data = buffer_.cdata();
    auto decoded = kn::rpc::decode(static_cast<const std::uint8_t*>(data.data()), data.size());
    REQUIRE(decoded);
    ev.message = *decoded;
    return ev;
  }

  // Reads until the master closes; returns the close code (0 on timeout).
  int close_code(std::chrono::milliseconds timeout = 10s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left <= 0ms) return 0;
      auto ev = next(left);
      if (ev.kind == Event::Kind::closed) {
        last_close_reason = ev.close_reason;
        return ev.close_code;
      }
      if (ev.kind == Event::Kind::timeout) return 0;
    }
  }
  std::string last_close_reason;

  // Whether a close frame with `code` waits unread on the socket. Peeked, not read: reading
  // through Beast would answer the master's pings, which a silent agent must not do.
  bool close_pending(int code)
    requires(!kTls)
  {
    std::vector<unsigned char> buf(64 * 1024);
    const auto n = ::recv(ws_.next_layer().socket().native_handle(), buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n < 4) return false;
    const auto hi = static_cast<unsigned char>((code >> 8) & 0xff);
    const auto lo = static_cast<unsigned char>(code & 0xff);
    // The master's frames are unmasked: 0x88 (FIN + close), payload length, then the code.
    for (std::size_t i = 0; i + 3 < static_cast<std::size_t>(n); ++i) {
      if (buf[i] == 0x88 && buf[i + 2] == hi && buf[i + 3] == lo) return true;
    }
    return false;
  }

  kn::rpc::Notification notification(const std::string& method) {
    for (int i = 0; i < 10; ++i) {
      auto ev = next();
      REQUIRE(ev.kind == Event::Kind::message);
      if (auto* n = std::get_if<kn::rpc::Notification>(&*ev.message); n != nullptr && n->method == method) return *n;
    }
    FAIL("no " << method);
    return {};
  }

  kn::rpc::Response response(std::uint32_t id) {
    for (int i = 0; i < 10; ++i) {
      auto ev = next();
      REQUIRE(ev.kind == Event::Kind::message);
      if (auto* r = std::get_if<kn::rpc::Response>(&*ev.message); r != nullptr && r->id == id) return *r;
    }
    FAIL("no response " << id);
    return {};
  }

  kn::rpc::Request request() {
    for (int i = 0; i < 10; ++i) {
      auto ev = next();
      REQUIRE(ev.kind == Event::Kind::message);
      if (auto* r = std::get_if<kn::rpc::Request>(&*ev.message)) return *r;
    }
    FAIL("no request");
    return {};
  }

  void send(const kn::rpc::Message& m) {
    const auto bytes = kn::rpc::encode(m);
    ws_.binary(true);
    ws_.write(asio::buffer(bytes));
  }

  void send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }

 private:
  bool connect(const MasterSim& sim, const Headers& headers, const std::string& target) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                       static_cast<unsigned short>(sim.port())));
    if constexpr (kTls) {
      ws_.next_layer().set_verify_mode(asio::ssl::verify_peer);
      ws_.next_layer().set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
      ws_.next_layer().handshake(asio::ssl::stream_base::client);
    }
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    websocket::response_type res;
    beast::error_code ec;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(sim.port()), target, ec);
    status_ = static_cast<int>(res.result_int());
    for (const auto& f : res) response_headers_[std::string(f.name_string())] = std::string(f.value());
    return !ec;
  }

  asio::io_context io_;
  websocket::stream<NextLayer> ws_;
  beast::flat_buffer buffer_;
  bool reading_ = false;
  bool read_done_ = false;
  beast::error_code read_ec_;
  int status_ = 0;
  std::map<std::string, std::string> response_headers_;
};

using Agent = TestAgent<beast::tcp_stream>;
using TlsAgent = TestAgent<beast::ssl_stream<beast::tcp_stream>>;

// Connects, expects acceptance, and consumes master_info and node_info.
void join(Agent& agent) {
  REQUIRE(agent.ok);
  agent.notification("/agent/master_info");
  agent.notification("/agent/node_info");
}

Json update_info(const std::string& name) {
  return {{"Name", name},
          {"OperatingSystem", "Flatcar Container Linux"},
          {"KernelVersion", "6.1.0"},
          {"NCPU", 2},
          {"ServerVersion", "20.10.24"},
          {"AgentVersion", "1.5.4"},
          {"PrivateIp", "10.0.1.5"},
          {"Labels", Json::array({"from-docker=1"})}};
}

}  // namespace

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
  for (const std::string version : {"1.4.9", "1.6.0", "1.5.0.rc1", "2.5.4"}) {
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
  CHECK(sim.stats()["rejections"]["4010"] == 4);
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
  CHECK(agent.response(12).error["message"] == "Missing HostNode");
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

// A minimal Kontena agent for the master simulator's own tests (sim_test.cpp,
// sim_services_test.cpp): a Beast WebSocket client that upgrades with the given Kontena-*
// headers and reads and writes MessagePack-RPC frames, so the simulator is checked against
// the protocol and not against our agent.
#pragma once

#include "support/catch_result.hpp"
#include "support/master_sim.hpp"

#include "kontena_time.hpp"

#include "master/msgpack_rpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <sys/socket.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sim_agent {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using kn::test::MasterSim;
using kn::test::MasterSimOptions;
using Json = nlohmann::json;
using Headers = std::map<std::string, std::string>;
using namespace std::chrono_literals;

inline std::string kontena_time(std::chrono::milliseconds offset = 0ms) {
  return kn::master_sim::format_kontena_time(kn::master_sim::now() + offset);
}

inline Headers agent_headers(const MasterSim& sim, const std::string& name = "node-1",
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
inline void join(Agent& agent) {
  REQUIRE(agent.ok);
  agent.notification("/agent/master_info");
  agent.notification("/agent/node_info");
}

inline Json update_info(const std::string& name) {
  return {{"Name", name},
          {"OperatingSystem", "Flatcar Container Linux"},
          {"KernelVersion", "6.1.0"},
          {"NCPU", 2},
          {"ServerVersion", "20.10.24"},
          {"AgentVersion", "1.5.4"},
          {"PrivateIp", "10.0.1.5"},
          {"Labels", Json::array({"from-docker=1"})}};
}


}  // namespace sim_agent

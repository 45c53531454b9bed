#include "rpc_session.hpp"

#include "handshake.hpp"
#include "service_rpc.hpp"
#include "volumes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <deque>

namespace kn::master_sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Close reasons travel in a control frame: at most 123 bytes (RFC 6455 section 5.5).
std::string clip_reason(std::string reason) {
  if (reason.size() > 123) reason.resize(123);
  return reason;
}

websocket::close_reason make_close(int code, const std::string& reason) {
  websocket::close_reason r;
  r.code = static_cast<std::uint16_t>(code);
  r.reason = clip_reason(reason);
  return r;
}

template <class Stream>
class WsSession final : public Session {
 public:
  WsSession(SimState& state, Stream stream)
      : Session(stream.get_executor()),
        state_(state),
        ws_(std::move(stream)),
        wake_(ws_.get_executor()),
        ping_timer_(ws_.get_executor()),
        pong_timer_(ws_.get_executor()) {
    state_.sessions.insert(this);
    state_.counters.connections++;
  }
  ~WsSession() override {
    state_.sessions.erase(this);
    state_.counters.connections--;
  }
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  awaitable<void> run(HttpRequest upgrade);

  void close(int code, std::string reason) override {
    if (closing_ || ended_) return;
    closing_ = true;
    close_code_ = code;
    close_reason_ = clip_reason(std::move(reason));
    queue_.push_back(Out{Out::Kind::close, {}});
    wake_.cancel();
  }
  void send(const rpc::Message& message) override {
    if (closing_ || ended_) return;
    queue_.push_back(Out{Out::Kind::message, rpc::encode(message)});
    wake_.cancel();
  }
  void send_raw(rpc::Bytes bytes, bool text) override {
    if (closing_ || ended_) return;
    queue_.push_back(Out{text ? Out::Kind::text : Out::Kind::message, std::move(bytes)});
    wake_.cancel();
  }
  void ping_now() override {
    ping_now_ = true;
    ping_timer_.cancel();
  }
  void reschedule() override { ping_timer_.cancel(); }

 private:
  struct Out {
    enum class Kind { message, text, ping, close } kind;
    rpc::Bytes bytes;
  };

  std::shared_ptr<WsSession> self() { return std::static_pointer_cast<WsSession>(shared_from_this()); }
  awaitable<void> writer(std::shared_ptr<WsSession> keep);
  awaitable<void> keepalive(std::shared_ptr<WsSession> keep);
  awaitable<void> reject(const Verdict& verdict, const HeaderMap& headers);
  void on_pong();
  void handle(rpc::Message message);
  rpc::Response handle_update(const rpc::Request& request);
  std::string describe() const { return "node=" + node_name_ + " node_id=" + node_id_ + " peer=" + peer; }

  SimState& state_;
  websocket::stream<Stream> ws_;
  asio::steady_timer wake_;
  asio::steady_timer ping_timer_;
  asio::steady_timer pong_timer_;
  std::deque<Out> queue_;
  bool closing_ = false;
  bool ended_ = false;
  bool ping_now_ = false;
  bool pong_pending_ = false;
  int close_code_ = 0;
  std::string close_reason_;
  std::string node_name_;
  std::string node_id_;
};

template <class Stream>
awaitable<void> WsSession<Stream>::run(HttpRequest upgrade) {
  beast::error_code ec;
  const auto endpoint = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
  peer = ec ? std::string("?") : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());

  HeaderMap headers;
  for (const auto& field : upgrade) {
    auto name = canonical_kontena_header(std::string_view(field.name_string().data(), field.name_string().size()));
    if (!name.empty()) headers[name] = std::string(field.value());
  }
  if (auto it = headers.find("Kontena-Node-Name"); it != headers.end()) node_name_ = it->second;
  if (auto it = headers.find("Kontena-Node-Id"); it != headers.end()) node_id_ = it->second;

  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(10);
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;  // the master keepalive below is the protocol's own
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [version = state_.master_version, at = format_kontena_time(now())](websocket::response_type& res) {
        res.set(beast::http::field::server, "kontena-master-sim");
        res.set("Kontena-Version", version);
        res.set("Kontena-Connected-At", at);
      }));
  ws_.read_message_max(16U << 20U);
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong) on_pong();
  });

  auto [accept_ec] = co_await ws_.async_accept(upgrade, kUse);
  if (accept_ec) {
    state_.log->debug("websocket upgrade failed: {} peer={}", accept_ec.message(), peer);
    co_return;
  }
  state_.counters.handshakes++;

  const auto verdict = check_handshake(state_.registry, headers, now(),
                                       HandshakeConfig{state_.master_version, state_.config.skew_past,
                                                       state_.config.skew_future});
  if (verdict.node) {
    node = *verdict.node;
    grid = verdict.grid;
    if (const Node* n = state_.registry.find(node)) node_name_ = n->name;
  }
  if (verdict.kind == Verdict::Kind::reject) {
    co_await reject(verdict, headers);
    co_return;
  }

  auto keep = self();
  asio::co_spawn(ws_.get_executor(), writer(keep), asio::detached);
  if (verdict.kind == Verdict::Kind::unregistered) {
    // websocket_backend.rb only logs the Time.parse failure: the socket stays open and
    // unregistered, so the agent never hears from the master.
    state_.counters.unregistered++;
    state_.log->warn("handshake left unregistered: {} {}", verdict.reason, describe());
  } else {
    state_.counters.accepted++;
    registered = true;
    connected_at = verdict.connected_at;
    state_.log->info("handshake accepted grid={} {} version={} connected_at={}", grid, describe(),
                     headers["Kontena-Version"], format_kontena_time(*connected_at));
    send(rpc::Notification{"/agent/master_info", Json::array({{{"version", state_.master_version}}})});
    if (state_.registry.plug(node, *connected_at, now())) {
      send(rpc::Notification{"/agent/node_info", Json::array({state_.registry.node_info(*state_.registry.find(node))})});
    } else {
      // NodePlugger#plugin! fails with "already re-connected"; the pong check then closes 4041.
      state_.log->warn("node not plugged: already re-connected with a newer connection {}", describe());
    }
    asio::co_spawn(ws_.get_executor(), keepalive(keep), asio::detached);
  }

  beast::flat_buffer buffer;
  beast::error_code read_ec;
  asio::steady_timer read_pause(ws_.get_executor());
  for (;;) {
    auto [rec, n] = co_await ws_.async_read(buffer, kUse);
    if (rec) {
      read_ec = rec;
      break;
    }
    if (state_.config.read_delay.count() > 0) {  // read_delay_ms: a master that drains slowly
      read_pause.expires_after(state_.config.read_delay);
      co_await read_pause.async_wait(kUse);
    }
    const auto data = buffer.cdata();
    auto decoded = ws_.got_binary() ? rpc::decode(static_cast<const std::uint8_t*>(data.data()), data.size())
                                    : Result<rpc::Message>(fail(Errc::master_unavailable, "text frame"));
    buffer.consume(buffer.size());
    if (!decoded) {
      // websocket_backend.rb#on_message: "Cannot unpack message", dropped.
      state_.counters.dropped_frames++;
      state_.log->warn("cannot unpack message: {} {}", decoded.error().message, describe());
      continue;
    }
    if (!registered) {
      state_.counters.dropped_frames++;
      continue;
    }
    handle(std::move(*decoded));
  }

  int code = 1006;
  std::string reason = read_ec.message();
  std::string by = "network";
  if (closing_) {
    code = close_code_;
    reason = close_reason_;
    by = "master";
  } else if (read_ec == websocket::error::closed) {
    code = ws_.reason().code;
    reason = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
    by = "agent";
  }
  ended_ = true;
  wake_.cancel();
  ping_timer_.cancel();
  pong_timer_.cancel();
  abandon_requests();
  if (registered && connected_at) {
    const bool unplugged = state_.registry.unplug(node, *connected_at, code, reason, now());
    // NodeUnplugger#update_node_containers: the master forgets what ran there.
    if (unplugged) state_.services.mark_node_containers_deleted(node, now());
    state_.log->info("connection closed by {} code={} reason=\"{}\" {}{}", by, code, reason, describe(),
                     unplugged ? "" : " (node already has a newer connection or was removed)");
  } else {
    state_.log->info("connection closed by {} code={} reason=\"{}\" {} (never registered)", by, code, reason,
                     describe());
  }
}

template <class Stream>
awaitable<void> WsSession<Stream>::reject(const Verdict& verdict, const HeaderMap& headers) {
  state_.counters.rejections[verdict.code]++;
  state_.counters.last_rejection = {{"code", verdict.code},
                                    {"reason", verdict.reason},
                                    {"node", node_name_},
                                    {"node_id", node_id_},
                                    {"handshake_headers", reportable_headers(headers)}};
  state_.log->info("handshake rejected code={} reason=\"{}\" {}", verdict.code, verdict.reason, describe());
  if (verdict.master_info_first) {
    // The agent's auto-upgrade path reads the master version from this notification.
    const auto bytes =
        rpc::encode(rpc::Notification{"/agent/master_info", Json::array({{{"version", state_.master_version}}})});
    ws_.binary(true);
    auto [wec, wn] = co_await ws_.async_write(asio::buffer(bytes), kUse);
    if (wec) co_return;
  }
  co_await ws_.async_close(make_close(verdict.code, verdict.reason),
                           kUse);
}

template <class Stream>
awaitable<void> WsSession<Stream>::writer(std::shared_ptr<WsSession> keep) {
  (void)keep;
  while (!ended_) {
    if (queue_.empty()) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(kUse);
      continue;
    }
    Out out = std::move(queue_.front());
    queue_.pop_front();
    beast::error_code ec;
    if (out.kind == Out::Kind::message || out.kind == Out::Kind::text) {
      ws_.binary(out.kind == Out::Kind::message);
      auto [wec, n] = co_await ws_.async_write(asio::buffer(out.bytes), kUse);
      ec = wec;
    } else if (out.kind == Out::Kind::ping) {
      const std::string payload(out.bytes.begin(), out.bytes.end());
      auto [pec] = co_await ws_.async_ping(websocket::ping_data(payload.c_str()), kUse);
      ec = pec;
    } else {
      auto [cec] = co_await ws_.async_close(
          make_close(close_code_, close_reason_), kUse);
      (void)cec;
      co_return;
    }
    if (ec) co_return;
  }
}

template <class Stream>
awaitable<void> WsSession<Stream>::keepalive(std::shared_ptr<WsSession> keep) {
  (void)keep;
  auto last_ping = std::chrono::steady_clock::now();
  while (!ended_ && !closing_) {
    const auto due = ping_now_ ? std::chrono::steady_clock::now() : last_ping + state_.config.ping_interval;
    ping_timer_.expires_at(due);
    co_await ping_timer_.async_wait(kUse);
    if (ended_ || closing_) break;
    if (!ping_now_ && std::chrono::steady_clock::now() < due) continue;  // rescheduled
    ping_now_ = false;
    last_ping = std::chrono::steady_clock::now();
    pong_pending_ = true;
    const auto stamp = format_kontena_time(now());
    queue_.push_back(Out{Out::Kind::ping, rpc::Bytes(stamp.begin(), stamp.end())});
    wake_.cancel();
    pong_timer_.expires_after(state_.config.pong_timeout);
    co_await pong_timer_.async_wait(kUse);
    if (ended_ || closing_) break;
    if (pong_pending_) {
      pong_pending_ = false;
      close(close_code::ping_timeout, "ping timeout");
      break;
    }
  }
}

template <class Stream>
void WsSession<Stream>::on_pong() {
  if (!pong_pending_ || closing_ || ended_) return;
  pong_pending_ = false;
  pong_timer_.cancel();
  Node* n = state_.registry.find(node);
  if (n == nullptr) {
    close(close_code::removed, "host node " + node_name_ + " has been removed");
  } else if (n->connected_at != connected_at) {
    close(close_code::conflict, "host node " + node_name_ + " connection conflict with new connection at " +
                                    (n->connected_at ? format_kontena_time(*n->connected_at) : std::string("?")));
  } else if (!n->connected) {
    close(close_code::disconnected, "host node " + node_name_ + " has been disconnected");
  } else {
    n->last_seen_at = now();
  }
}

template <class Stream>
void WsSession<Stream>::handle(rpc::Message message) {
  if (auto* req = std::get_if<rpc::Request>(&message)) {
    state_.counters.requests++;
    state_.log->debug("request {} id={} {}", req->method, req->id, describe());
    if (req->method == "/nodes/update") {
      send(handle_update(*req));
    } else if (auto served = handle_service_request(state_, grid, *req)) {
      send(*served);
    } else if (auto volume = handle_volume_request(state_, grid, *req)) {
      send(*volume);
    } else {
      send(rpc::not_implemented(req->id));
    }
  } else if (auto* note = std::get_if<rpc::Notification>(&message)) {
    state_.counters.notifications++;
    state_.log->debug("notification {} {}", note->method, describe());
    if (handle_service_notification(state_, grid, *note)) {
      // service side: event log, container logs and stats
    } else if (note->method == "/nodes/stats" && note->params.size() >= 2 && note->params[0].is_string()) {
      if (Node* n = state_.registry.find_by_node_id(grid, note->params[0].get<std::string>())) {
        n->stats_count++;
        n->last_stats = note->params[1];
      }
    }
  } else if (auto* res = std::get_if<rpc::Response>(&message)) {
    deliver(*res);
  }
}

template <class Stream>
rpc::Response WsSession<Stream>::handle_update(const rpc::Request& req) {
  const Json& p = req.params;
  if (p.size() < 2 || !p[0].is_string() || !p[1].is_object()) {
    return rpc::Response{req.id, Json{{"code", 400}, {"message", "expected params [node_id, info]"}}, nullptr};
  }
  // Rpc::NodeHandler#update looks the node up in this connection's grid and raises a
  // RuntimeError, which RpcServer#handle_request answers as {code: 500, message: "Class: msg"}.
  const auto node_id = p[0].get<std::string>();
  Node* n = state_.registry.find_by_node_id(grid, node_id);
  if (n == nullptr) return rpc::Response{req.id, ruby_error("Missing HostNode: " + node_id), nullptr};
  state_.registry.apply_update(*n, p[1], now());
  return rpc::Response{req.id, nullptr, true};
}

}  // namespace

template <class Stream>
awaitable<void> run_websocket_session(SimState& state, Stream stream, HttpRequest upgrade) {
  auto session = std::make_shared<WsSession<Stream>>(state, std::move(stream));
  co_await session->run(std::move(upgrade));
}

template awaitable<void> run_websocket_session<beast::tcp_stream>(SimState&, beast::tcp_stream, HttpRequest);
template awaitable<void> run_websocket_session<beast::ssl_stream<beast::tcp_stream>>(
    SimState&, beast::ssl_stream<beast::tcp_stream>, HttpRequest);

}  // namespace kn::master_sim

#include "server.hpp"

#include "deployer.hpp"
#include "rest_api.hpp"
#include "rpc_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace kn::master_sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

bool is_root(beast::string_view target) {
  const std::string_view t(target.data(), target.size());
  return t.substr(0, t.find('?')) == "/";
}

// One connection: HTTP requests until one is a WebSocket upgrade on "/" (the master's
// websocket_backend.rb#call rule), which then owns the stream.
template <class Stream>
awaitable<void> serve_http(SimState& state, Stream stream) {
  beast::flat_buffer buffer;
  for (;;) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
    http::request_parser<http::string_body> parser;
    parser.body_limit(1U << 20U);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUse);
    if (ec) break;
    HttpRequest req = parser.release();
    if (beast::websocket::is_upgrade(req) && is_root(req.target())) {
      beast::get_lowest_layer(stream).expires_never();
      co_await run_websocket_session(state, std::move(stream), std::move(req));
      co_return;
    }
    HttpResponse res = co_await handle_rest(state, req);
    const bool keep_alive = res.keep_alive();
    auto [wec, wn] = co_await http::async_write(stream, res, kUse);
    if (wec || !keep_alive) break;
  }
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  } else {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(kUse);
  }
}

awaitable<void> serve(SimState& state, tcp::socket socket, std::shared_ptr<asio::ssl::context> tls) {
  beast::tcp_stream tcp_stream(std::move(socket));
  if (!tls) {
    co_await serve_http(state, std::move(tcp_stream));
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), *tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kUse);
  if (ec) {
    state.log->debug("TLS handshake failed: {}", ec.message());
    co_return;
  }
  co_await serve_http(state, std::move(stream));
}

}  // namespace

Server::Server(asio::io_context& io, SimState& state, std::shared_ptr<asio::ssl::context> tls)
    : io_(io), state_(state), tls_(std::move(tls)), acceptor_(io), stale_timer_(io), destroy_timer_(io) {}

Result<unsigned short> Server::listen(const asio::ip::address& address, unsigned short port) {
  if (!address.is_loopback()) {
    return fail(Errc::usage, "failed to listen on " + address.to_string() +
                                 ": the simulator serves loopback only; use --listen 127.0.0.1 or ::1");
  }
  const tcp::endpoint endpoint(address, port);
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(Errc::master_unavailable, "failed to listen on " + address.to_string() + ":" +
                                              std::to_string(port) + ": " + ec.message());
  }
  return acceptor_.local_endpoint().port();
}

void Server::start() {
  asio::co_spawn(
      io_,
      [this]() -> awaitable<void> {
        for (;;) {
          auto [ec, socket] = co_await acceptor_.async_accept(kUse);
          if (ec == asio::error::operation_aborted || stopping_) co_return;
          if (ec) {
            // Out of file descriptors and the like: wait instead of spinning.
            state_.log->warn("failed to accept a connection: {}", ec.message());
            asio::steady_timer pause(io_, std::chrono::milliseconds(100));
            co_await pause.async_wait(kUse);
            continue;
          }
          boost::system::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          asio::co_spawn(io_, serve(state_, std::move(socket), tls_), asio::detached);
        }
      },
      asio::detached);

  // NodeCleanupJob, both halves (server/app/jobs/node_cleanup_job.rb). A timing change
  // through /v1/_sim/config restarts the waits.
  state_.on_config_changed = [this] {
    stale_timer_.cancel();
    destroy_timer_.cancel();
  };
  state_.executor = io_.get_executor();
  start_service_jobs(state_);
  asio::co_spawn(
      io_,
      [this]() -> awaitable<void> {
        while (!stopping_) {
          stale_timer_.expires_after(state_.config.cleanup_interval);
          auto [ec] = co_await stale_timer_.async_wait(kUse);
          if (ec || stopping_) continue;
          for (NodeKey key : state_.registry.mark_stale(now(), state_.config.stale_after)) {
            if (const Node* n = state_.registry.find(key)) {
              state_.log->info("node marked disconnected: not seen for {} ms node={}",
                               state_.config.stale_after.count(), n->name);
            }
          }
        }
      },
      asio::detached);
  asio::co_spawn(
      io_,
      [this]() -> awaitable<void> {
        while (!stopping_) {
          destroy_timer_.expires_after(state_.config.destroy_interval);
          auto [ec] = co_await destroy_timer_.async_wait(kUse);
          if (ec || stopping_) continue;
          for (const auto& name : state_.registry.destroy_expired(now(), state_.config.destroy_after)) {
            state_.log->info("ephemeral node destroyed: offline longer than {} ms node={}",
                             state_.config.destroy_after.count(), name);
          }
        }
      },
      asio::detached);
}

void Server::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  stale_timer_.cancel();
  destroy_timer_.cancel();
  for (Session* s : std::vector<Session*>(state_.sessions.begin(), state_.sessions.end())) {
    s->close(1001, "master shutting down");
  }
  asio::co_spawn(
      io_,
      [this]() -> awaitable<void> {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        asio::steady_timer tick(io_);
        while (!state_.sessions.empty() && std::chrono::steady_clock::now() < deadline) {
          tick.expires_after(std::chrono::milliseconds(20));
          co_await tick.async_wait(kUse);
        }
        io_.stop();
      },
      asio::detached);
}

}  // namespace kn::master_sim

// kontena-master-load: opens N agent WebSocket connections to a Kontena master (the
// simulator, on loopback) with distinct node ids, answers pings and requests (501), sends
// one /nodes/update each, holds them for a while, and prints how many were accepted and
// online. Plain ws:// only; loopback only.
#include "master/handshake.hpp"
#include "master/msgpack_rpc.hpp"

#include "core/atomic_file.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

struct Totals {
  int started = 0;
  int connecting = 0;
  int handshakes = 0;
  int accepted = 0;   // got /agent/master_info
  int node_info = 0;  // got /agent/node_info
  int online = 0;     // /nodes/update answered true
  int open = 0;
  int failed = 0;
  long pings = 0;
  std::map<int, int> closes;  // close codes seen before the hold ended
};

struct Config {
  tcp::endpoint endpoint;
  std::string host;
  std::string token;
  int grids = 1;  // agent i uses grid i % grids: token, token-2, ... (the simulator's --grids)
  std::string version = "1.5.4";
  std::string prefix = "load";
  unsigned run_id = 0;
};

awaitable<void> agent(const Config& cfg, int index, Totals& totals, asio::steady_timer& hold_done) {
  auto ex = co_await asio::this_coro::executor;
  // Shared with the closer below, which may outlive this coroutine.
  auto ws_ptr = std::make_shared<websocket::stream<beast::tcp_stream>>(ex);
  auto& ws = *ws_ptr;
  auto holding = std::make_shared<bool>(true);
  totals.connecting++;
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
  auto [cec] = co_await beast::get_lowest_layer(ws).async_connect(cfg.endpoint, kUse);
  if (cec) {
    totals.connecting--;
    totals.failed++;
    co_return;
  }
  beast::get_lowest_layer(ws).expires_never();
  char id[80];
  std::snprintf(id, sizeof id, "LOAD:%04X:0000:0000:0000:0000:0000:0000:0000:0000:%04X:%04X", cfg.run_id & 0xFFFFU,
                (static_cast<unsigned>(index) >> 16U) & 0xFFFFU, static_cast<unsigned>(index) & 0xFFFFU);
  const std::string node_id = id;
  const std::string name = cfg.prefix + "-" + std::to_string(index);
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(30);
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    req.set("Kontena-Node-Id", node_id);
    req.set("Kontena-Node-Name", name);
    req.set("Kontena-Version", cfg.version);
    req.set("Kontena-Node-Labels", "load=true");
    req.set("Kontena-Connected-At", kn::master::format_connected_at(std::chrono::system_clock::now()));
    const int g = index % cfg.grids;
    req.set("Kontena-Grid-Token", g == 0 ? cfg.token : cfg.token + "-" + std::to_string(g + 1));
  }));
  ws.control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) totals.pings++;  // Beast answers with a pong
  });
  auto [hec] = co_await ws.async_handshake(cfg.host, "/", kUse);
  totals.connecting--;
  if (hec) {
    totals.failed++;
    co_return;
  }
  totals.handshakes++;
  totals.open++;
  ws.binary(true);
  // The hold timer's cancellation closes this connection from the client side.
  asio::co_spawn(
      ex,
      [ws_ptr, holding, &hold_done]() -> awaitable<void> {
        co_await hold_done.async_wait(kUse);
        *holding = false;
        co_await ws_ptr->async_close(websocket::close_code::normal, kUse);
      },
      asio::detached);
  beast::flat_buffer buffer;
  bool accepted = false;
  for (;;) {
    auto [rec, n] = co_await ws.async_read(buffer, kUse);
    if (rec) break;
    const auto data = buffer.cdata();
    auto msg = kn::rpc::decode(static_cast<const std::uint8_t*>(data.data()), data.size());
    buffer.consume(buffer.size());
    if (!msg) continue;
    kn::rpc::Bytes reply;
    if (auto* note = std::get_if<kn::rpc::Notification>(&*msg)) {
      if (note->method == "/agent/master_info" && !accepted) {
        accepted = true;
        totals.accepted++;
        const nlohmann::json info = {{"Name", name}, {"AgentVersion", cfg.version}, {"ID", node_id},
                                     {"Labels", nlohmann::json::array({"load=true"})}};
        reply = kn::rpc::encode(kn::rpc::Request{static_cast<std::uint32_t>(index + 1), "/nodes/update",
                                                 nlohmann::json::array({node_id, info})});
      } else if (note->method == "/agent/node_info") {
        totals.node_info++;
      }
    } else if (auto* req = std::get_if<kn::rpc::Request>(&*msg)) {
      reply = kn::rpc::encode(kn::rpc::not_implemented(req->id));
    } else if (auto* res = std::get_if<kn::rpc::Response>(&*msg)) {
      if (res->error.is_null() && res->result == true) totals.online++;
    }
    if (!reply.empty()) {
      // One writer at a time: replies are sent from this read loop only.
      auto [wec, wn] = co_await ws.async_write(asio::buffer(reply), kUse);
      if (wec) break;
    }
  }
  totals.open--;
  if (*holding) totals.closes[ws.reason().code]++;
}

}  // namespace

int main(int argc, char** argv) try {
  std::string url;
  std::string token_file;
  int connections = 1000;
  double hold_seconds = 10;
  int concurrency = 64;
  Config cfg;
  CLI::App app{"Open many Kontena agent connections to a master simulator on loopback and hold them"};
  app.add_option("--url", url, "ws://127.0.0.1:PORT/")->required();
  app.add_option("--grid-token-file", token_file, "File holding the grid token")->required();
  app.add_option("--connections", connections, "How many agents")->capture_default_str();
  app.add_option("--hold", hold_seconds, "Seconds to hold the connections once all are opened")->capture_default_str();
  app.add_option("--concurrency", concurrency, "Handshakes in flight at once")->capture_default_str();
  app.add_option("--grids", cfg.grids, "Spread the agents over this many grids (the simulator's --grids)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--agent-version", cfg.version, "Kontena-Version to send")->capture_default_str();
  app.add_option("--name-prefix", cfg.prefix, "Node names are PREFIX-N")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "ws") {
    std::cerr << "kontena-master-load: failed to parse --url " << url << ": use ws://127.0.0.1:PORT/\n";
    return 64;
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(parsed->host() == "localhost" ? "127.0.0.1" : std::string(parsed->host()), ec);
  if (ec || !address.is_loopback()) {
    std::cerr << "kontena-master-load: refusing " << url << ": loopback addresses only\n";
    return 64;
  }
  cfg.endpoint = tcp::endpoint(address, static_cast<unsigned short>(parsed->port_number()));
  cfg.host = std::string(parsed->host()) + ":" + std::string(parsed->port());
  auto token = kn::read_file(token_file);
  if (!token || !*token) {
    std::cerr << "kontena-master-load: failed to read grid token file " << token_file << "\n";
    return 78;
  }
  cfg.token = **token;
  while (!cfg.token.empty() && (cfg.token.back() == '\n' || cfg.token.back() == ' ')) cfg.token.pop_back();
  cfg.run_id = std::random_device{}();

  asio::io_context io(1);
  Totals totals;
  asio::steady_timer hold_done(io, asio::steady_timer::time_point::max());
  const auto started = std::chrono::steady_clock::now();
  double connect_seconds = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        asio::steady_timer tick(io);
        for (int i = 0; i < connections; ++i) {
          while (totals.connecting >= concurrency) {
            tick.expires_after(std::chrono::milliseconds(1));
            co_await tick.async_wait(kUse);
          }
          totals.started++;
          asio::co_spawn(io, agent(cfg, i, totals, hold_done), asio::detached);
        }
        // All dialled: wait for the handshakes and updates to settle, then hold.
        const auto settle_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while ((totals.connecting > 0 || totals.online + totals.failed < totals.accepted) &&
               std::chrono::steady_clock::now() < settle_deadline) {
          tick.expires_after(std::chrono::milliseconds(10));
          co_await tick.async_wait(kUse);
        }
        connect_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        tick.expires_after(std::chrono::milliseconds(static_cast<long>(hold_seconds * 1000)));
        co_await tick.async_wait(kUse);
        const int open_at_end = totals.open;
        std::cout << "held " << open_at_end << " open connections for " << hold_seconds << " s\n";
        nlohmann::json closes = nlohmann::json::object();
        for (const auto& [code, n] : totals.closes) closes[std::to_string(code)] = n;
        const nlohmann::json summary = {{"connections", connections},   {"handshakes", totals.handshakes},
                                        {"accepted", totals.accepted},  {"node_info", totals.node_info},
                                        {"online", totals.online},      {"open_at_end", open_at_end},
                                        {"failed", totals.failed},      {"pings_answered", totals.pings},
                                        {"closed_early", closes},       {"connect_seconds", connect_seconds}};
        std::cout << summary.dump() << "\n";
        std::cout.flush();
        hold_done.cancel();
        tick.expires_after(std::chrono::seconds(3));
        co_await tick.async_wait(kUse);
        io.stop();
      },
      asio::detached);
  io.run();
  return totals.accepted == connections ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "kontena-master-load: " << e.what() << "\n";
  return 70;
}

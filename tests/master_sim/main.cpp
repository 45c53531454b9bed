// kontena-master-sim: a Kontena master for tests, faithful to the agent-facing behaviour
// in docs/protocol.md ("What a faithful master simulator must
// do"). Loopback only. Tokens come from files and are never logged.
#include "server.hpp"
#include "tls.hpp"

#include "core/atomic_file.hpp"
#include "core/logging.hpp"
#include "core/settings.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>

namespace {

namespace asio = boost::asio;
using kn::master_sim::milliseconds;

int fail_with(const kn::Failure& f) {
  std::cerr << "kontena-master-sim: " << f.message << "\n";
  return f.exit_code();
}

kn::Result<std::string> read_token(const std::string& path, std::string_view what) {
  auto content = kn::read_file(path);
  if (!content) return content.error();
  if (!*content) {
    return kn::fail(kn::Errc::config_invalid, "failed to read " + std::string(what) + " file " + path +
                                                  ": no such file; create it or fix the path");
  }
  std::string token = **content;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    return kn::fail(kn::Errc::config_invalid,
                    "failed to read " + std::string(what) + " file " + path + ": the file is empty");
  }
  return token;
}

// "6s", "500ms", "1m", "6h" (the agent's duration syntax).
CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return kn::config::parse_duration(value) ? std::string() : "'" + value + "' is not a duration (e.g. 500ms, 6s, 1m)";
      },
      "DURATION");
}

}  // namespace

int main(int argc, char** argv) try {
  std::string listen = "127.0.0.1";
  unsigned short port = 0;
  std::string port_file;
  std::string master_version = "1.5.4";
  std::string grid = "test";
  std::string grid_token_file;
  std::string api_token_file;
  int initial_size = 1;
  int grid_count = 1;
  std::string skew_past = "6s", skew_future = "1s", ping_interval = "30s", pong_timeout = "5s";
  std::string stale_after = "1m", cleanup_interval = "1m", destroy_after = "6h", destroy_interval = "1h";
  std::string tls_cert, tls_key, log_level = "info";

  CLI::App app{"Kontena master simulator for tests: the agent WebSocket protocol and the node REST API, loopback only"};
  app.add_option("--listen", listen, "Loopback address to listen on (127.0.0.0/8 or ::1)")->capture_default_str();
  app.add_option("--port", port, "TCP port; 0 picks a free one")->capture_default_str();
  app.add_option("--port-file", port_file, "Write the port (digits + newline) here, atomically, once listening");
  app.add_option("--master-version", master_version, "Master version; agents must match ~> MAJOR.MINOR.0")
      ->capture_default_str();
  app.add_option("--grid", grid, "Grid name")->capture_default_str();
  app.add_option("--grid-token-file", grid_token_file, "File holding the grid token")->required();
  app.add_option("--api-token-file", api_token_file,
                 "File holding the bearer token for /v1/nodes and /v1/grids (default: no auth)");
  app.add_option("--grids", grid_count,
                 "Grids to serve: NAME, NAME-2..NAME-N with tokens TOKEN, TOKEN-2..TOKEN-N (a grid holds at most 254 "
                 "nodes; load tests need more)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app.add_option("--initial-size", initial_size, "Grid initial_size: nodes 1..N are never cleaned up")
      ->capture_default_str()
      ->check(CLI::Range(1, 254));
  app.add_option("--clock-skew-past", skew_past, "Reject (4020) Kontena-Connected-At older than this")
      ->capture_default_str()
      ->check(duration_validator());
  app.add_option("--clock-skew-future", skew_future, "Reject (4020) Kontena-Connected-At ahead by more than this")
      ->capture_default_str()
      ->check(duration_validator());
  app.add_option("--ping-interval", ping_interval, "Master keepalive ping interval")
      ->capture_default_str()
      ->check(duration_validator());
  app.add_option("--pong-timeout", pong_timeout, "Close 4030 when no pong arrives within this")
      ->capture_default_str()
      ->check(duration_validator());
  app.add_option("--stale-after", stale_after, "Cleanup: connected nodes not seen this long become disconnected")
      ->capture_default_str()
      ->check(duration_validator());
  app.add_option("--cleanup-interval", cleanup_interval, "Cleanup: how often the stale check runs")
      ->capture_default_str()
      ->check(duration_validator());
  app.add_option("--destroy-after", destroy_after, "Cleanup: destroy ephemeral nodes last seen longer ago")
      ->capture_default_str()
      ->check(duration_validator());
  app.add_option("--destroy-interval", destroy_interval, "Cleanup: how often the destroy check runs")
      ->capture_default_str()
      ->check(duration_validator());
  auto* cert_opt = app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve wss:// and https://");
  auto* key_opt = app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kn::exit_code::usage;
  }

  kn::log::setup(kn::log::parse_level(log_level));
  kn::master_sim::SimState state;
  state.log = kn::log::get("master-sim");
  state.master_version = master_version;
  auto duration = [](const std::string& s) { return *kn::config::parse_duration(s); };
  state.config.skew_past = duration(skew_past);
  state.config.skew_future = duration(skew_future);
  state.config.ping_interval = duration(ping_interval);
  state.config.pong_timeout = duration(pong_timeout);
  state.config.stale_after = duration(stale_after);
  state.config.cleanup_interval = duration(cleanup_interval);
  state.config.destroy_after = duration(destroy_after);
  state.config.destroy_interval = duration(destroy_interval);

  auto grid_token = read_token(grid_token_file, "grid token");
  if (!grid_token) return fail_with(grid_token.error());
  state.registry.add_grid(kn::master_sim::Grid{.name = grid, .token = *grid_token, .initial_size = initial_size});
  for (int i = 2; i <= grid_count; ++i) {
    const auto suffix = "-" + std::to_string(i);
    state.registry.add_grid(
        kn::master_sim::Grid{.name = grid + suffix, .token = *grid_token + suffix, .initial_size = initial_size});
  }
  if (!api_token_file.empty()) {
    auto api_token = read_token(api_token_file, "API token");
    if (!api_token) return fail_with(api_token.error());
    state.api_token = *api_token;
  }

  std::shared_ptr<asio::ssl::context> tls;
  if (!tls_cert.empty()) {
    auto ctx = kn::master_sim::make_server_tls(tls_cert, tls_key);
    if (!ctx) return fail_with(ctx.error());
    tls = *ctx;
  }

  boost::system::error_code ec;
  auto address = asio::ip::make_address(listen == "localhost" ? "127.0.0.1" : listen, ec);
  if (ec) {
    return fail_with(kn::fail(kn::Errc::usage, "failed to parse --listen '" + listen +
                                                   "': not an IP address; use 127.0.0.1 or ::1"));
  }

  asio::io_context io(1);
  // The sessions (destroyed with `io`) unregister from the state, so the state outlives `io`;
  // but its on_config_changed holds timers of `io`, so that one goes first.
  struct DropTimers {
    kn::master_sim::SimState& state;
    ~DropTimers() { state.on_config_changed = nullptr; }
  } drop_timers{state};
  kn::master_sim::Server server(io, state, tls);
  auto bound = server.listen(address, port);
  if (!bound) return fail_with(bound.error());
  server.start();
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& error, int signo) {
    if (error) return;
    state.log->info("signal {}: shutting down", signo);
    server.shutdown();
  });
  std::signal(SIGPIPE, SIG_IGN);

  if (!port_file.empty()) {
    if (auto written = kn::write_file_atomically(port_file, std::to_string(*bound) + "\n"); !written) {
      return fail_with(written.error());
    }
  }
  state.log->info("listening on {}://{}:{}/ grid={} master_version={}", tls ? "wss" : "ws",
                  address.to_string(), *bound, grid, master_version);
  io.run();
  return kn::exit_code::ok;
} catch (const std::exception& e) {
  std::cerr << "kontena-master-sim: " << e.what() << "\n";
  return kn::exit_code::software;
}

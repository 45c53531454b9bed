// What every part of the simulator shares on its one io_context thread: the timings
// (changeable at run time through /v1/_sim/config), the node registry, counters, and the
// live WebSocket sessions (so REST calls can close, ping or query them).
#pragma once

#include "container_log_store.hpp"
#include "container_exec.hpp"
#include "node_registry.hpp"
#include "services.hpp"

#include "master/msgpack_rpc.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace kn::master_sim {

using std::chrono::milliseconds;

// Timings; defaults are the Kontena master's (docs/protocol.md sections 2, 5).
struct RuntimeConfig {
  milliseconds ping_interval{30'000};    // master keepalive ping
  milliseconds pong_timeout{5'000};      // WEBSOCKET_TIMEOUT: 4030 without a pong
  milliseconds skew_past{6'000};         // WEBSOCKET_TIMEOUT + KONTENA_CLOCK_SKEW
  milliseconds skew_future{1'000};       // KONTENA_CLOCK_SKEW
  milliseconds stale_after{60'000};      // NodeCleanupJob: connected but not seen
  milliseconds cleanup_interval{60'000};
  milliseconds destroy_after{6 * 3'600'000};  // ephemeral nodes last seen longer ago are destroyed
  milliseconds destroy_interval{3'600'000};
  // Service side (kontena v1.5.4: server/app/services/grid_service_instance_deployer.rb,
  // server/app/helpers/wait_helper.rb, server/app/jobs/grid_scheduler_job.rb,
  // server/app/services/scheduler/strategy/{daemon,high_availability}.rb).
  milliseconds notify_timeout{5'000};        // /service_pods/notify_update request
  milliseconds deploy_timeout{300'000};      // wait for set_state with the deploy's rev
  milliseconds deploy_poll{500};             // WaitHelper interval of that wait
  milliseconds scheduler_interval{20'000};   // GridSchedulerJob
  milliseconds daemon_grace{600'000};        // Daemon#host_grace_period: a lost node keeps its instances
  milliseconds ha_grace{120'000};            // HighAvailability#host_grace_period
  // Test only: a pause after each frame read from an agent (0: none), a master that drains
  // its sockets slowly (container_logs.hpp; the log streamer's backpressure test).
  milliseconds read_delay{0};

  Json to_json() const;
  // Applies {"ping_interval_ms": N, ...}; unknown keys or non-positive values are an error text.
  std::optional<std::string> apply(const Json& changes);
};

struct Counters {
  std::uint64_t connections = 0;   // open WebSocket connections now
  std::uint64_t handshakes = 0;    // WebSocket upgrades completed
  std::uint64_t accepted = 0;      // handshakes that passed every check
  std::uint64_t unregistered = 0;  // upgrades left open and silent (bad Kontena-Connected-At or
                                   // Kontena-Version, grid full): the master only logged an error
  std::map<int, std::uint64_t> rejections;
  std::uint64_t requests = 0;       // agent -> master requests
  std::uint64_t notifications = 0;  // agent -> master notifications
  std::uint64_t dropped_frames = 0; // text frames and undecodable payloads
  std::uint64_t http_requests = 0;
  Json last_rejection = nullptr;
};

// One agent WebSocket connection as REST handlers see it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  virtual ~Session() = default;
  // Closes the connection with a close frame (idempotent).
  virtual void close(int code, std::string reason) = 0;
  virtual void send(const rpc::Message& message) = 0;
  // Test only (POST /v1/_sim/raw): sends `bytes` as one data frame, unchecked, so tests can feed
  // the agent garbage, wrongly shaped MessagePack and oversized frames; `text` sends a text frame.
  virtual void send_raw(rpc::Bytes bytes, bool text) = 0;
  // Runs the next keepalive round now (after DELETE the pong check closes with 4040).
  virtual void ping_now() = 0;
  // Timings changed: recompute the next ping.
  virtual void reschedule() = 0;

  // Sends a request and waits for the agent's response; nullopt on timeout or close.
  boost::asio::awaitable<std::optional<rpc::Response>> request(std::string method, Json params,
                                                               milliseconds timeout);

  NodeKey node = 0;
  std::string grid;
  std::optional<SysTime> connected_at;
  bool registered = false;  // passed the handshake: keepalive and RPC run
  std::string peer;

 protected:
  explicit Session(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  void deliver(const rpc::Response& response);
  void abandon_requests();

 private:
  struct Pending {
    explicit Pending(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}
    boost::asio::steady_timer timer;
    std::optional<rpc::Response> response;
  };
  boost::asio::any_io_executor executor_;
  std::map<std::uint32_t, std::shared_ptr<Pending>> pending_;
};

struct SimState {
  std::string master_version;
  std::optional<std::string> api_token;
  RuntimeConfig config;
  NodeRegistry registry;
  Counters counters;
  std::set<Session*> sessions;
  std::shared_ptr<spdlog::logger> log;
  std::function<void()> on_config_changed;  // wakes the cleanup loops and the scheduler job
  ServiceStore services;
  ContainerLogStore container_logs;  // container_logs.hpp
  ExecStore exec;  // exec sessions started through the REST API (container_exec.hpp)
  boost::asio::any_io_executor executor;  // the io_context's, for deploys started by REST calls

  // Sessions of a node; `live_only`: only the one whose connection is plugged.
  std::vector<Session*> sessions_of(NodeKey key, bool live_only);
  // Re-sends /agent/node_info to every plugged node of the grid, as the master does after
  // a node is created, updated or removed through the API.
  void notify_grid(const std::string& grid);
  Json counters_json() const;
};

}  // namespace kn::master_sim

// The master link as a sans-io state machine: events in, actions out. It owns the
// protocol rules (docs/protocol.md): when to dial, how to react to
// each close code, the keepalive, the RPC exchange and the /nodes/update and /nodes/stats
// schedule. It is also the RPC port of the rest of the agent: master requests and
// notifications for `served_methods` go out as action::Deliver (requests are answered with
// event::Reply), the agent's own calls come in as event::Call and end in one action::CallDone.
// It never touches a socket, a timer or a file; websocket_link.hpp runs its actions, and
// tests drive it with a ManualClock and a fixed random source.
//
//   idle --start--> connecting --connected--> connected --closed(4001|4010|4040|4041)--> stopped (exit)
//                      ^   |                     |
//                      |   +--connect failed--+  +--closed(other) / pong missed--+
//                      |                      v                                 v
//                      +-------reconnect due---- backoff <--------------------------+
//   connected --no /agent/master_info within master_info_timeout (abort)--> backoff
//   any --stop--> stopping (close 1000) --closed | close deadline--> stopped (exit 0)
//
// Not thread-safe: call handle() from one thread (the Asio loop).
#pragma once

#include "core/clock.hpp"
#include "core/error.hpp"
#include "master/msgpack_rpc.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace kn::master {

using std::chrono::milliseconds;

enum class LinkState { idle, connecting, connected, backoff, stopping, stopped };
std::string_view to_string(LinkState s);

enum class TimerId { reconnect, ping, pong_deadline, update, stats, request_timeout, close_deadline, master_info };
inline constexpr std::size_t kTimerCount = 8;
std::string_view to_string(TimerId t);

// Close codes of the Kontena master (docs/protocol.md "Close codes").
namespace close_code {
inline constexpr int normal = 1000;
inline constexpr int invalid_grid_token = 4001;
inline constexpr int version_incompatible = 4010;
inline constexpr int clock_skew = 4020;
inline constexpr int node_removed = 4040;
inline constexpr int conflict = 4041;
}  // namespace close_code

// The four codes after which the Kontena agent shuts down instead of reconnecting; the
// Errc (and so the exit code) for each, std::nullopt for codes that mean "reconnect".
std::optional<Errc> shutdown_errc(int code);

struct SessionConfig {
  std::string node_id;                   // first param of /nodes/update
  std::string url = "ws://master/";      // for status lines and messages (never holds secrets)
  milliseconds ping_interval{30'000};    // kontena v1.5.4: agent/lib/kontena/websocket_client.rb: ping 30 s after the previous one
  milliseconds pong_timeout{5'000};      // WEBSOCKET_TIMEOUT
  milliseconds update_interval{60'000};  // node_info_worker.rb
  milliseconds stats_interval{60'000};   // node_stats_worker.rb
  milliseconds request_timeout{30'000};  // rpc_client.rb: 30 s for the reply
  milliseconds close_timeout{1'500};     // stop must end within 2 s of SIGTERM
  milliseconds backoff_cap{90'000};
  // A master that upgrades but never sends /agent/master_info (e.g. it could not parse our
  // Kontena-Version and only logged it) would hold the agent for ever: reconnect after this.
  milliseconds master_info_timeout{30'000};
  // Master requests and notifications delivered as action::Deliver; the app must answer each
  // delivered request with event::Reply. Other requests still get an immediate 501.
  std::set<std::string> served_methods;
};

// A master request (request_id set: answer it) or notification for a served method.
struct MasterCall {
  std::optional<std::uint32_t> request_id;
  std::string method;
  rpc::Value params;  // always an array
};

// What the rest of the agent learns about the link: master_info (Kontena's
// websocket:connected), node_info (the node object changed or arrived again), lost (a
// connection that had been upgraded ended; Kontena's websocket:disconnected).
enum class LinkEvent { master_info, node_info, lost };
std::string_view to_string(LinkEvent e);

namespace event {
struct Start {};
struct Connected {};                      // the 101 arrived
struct ConnectFailed { Failure failure; };  // resolve, TCP, TLS or upgrade failed
struct Frame { rpc::Bytes data; };        // one binary message
struct Pong {};
struct Closed {                           // the connection ended; code 0: no close frame (network)
  int code = 0;
  std::string reason;
};
struct TimerFired { TimerId timer; };
struct NodeInfoCollected { rpc::Value info; };  // reply to action::CollectNodeInfo
struct StatsCollected { rpc::Value stats; };    // reply to action::CollectStats
struct Stop {};
// The app calls the master: `tag` (chosen by the caller) comes back in exactly one
// action::CallDone. Fails at once with master_unavailable unless connected.
struct Call {
  std::uint64_t tag = 0;
  std::string method;
  rpc::Value params;  // positional params; a non-array is sent as [params]
};
struct Notify {  // dropped (debug log) unless connected
  std::string method;
  rpc::Value params;
};
struct Reply {  // the app's answer to a delivered master request
  std::uint32_t request_id = 0;
  Result<rpc::Value> result;
};
}  // namespace event

using Event = std::variant<event::Start, event::Connected, event::ConnectFailed, event::Frame, event::Pong,
                           event::Closed, event::TimerFired, event::NodeInfoCollected, event::StatsCollected,
                           event::Stop, event::Call, event::Notify, event::Reply>;

namespace action {
struct Connect {};                        // dial; a previous connection is already gone
struct Send { rpc::Bytes frame; };        // one binary frame
struct Ping {};                           // a WebSocket ping control frame
struct Close {                            // close handshake; a Closed event follows
  std::uint16_t code = 1000;
  std::string reason;
};
struct Abort {};                          // drop the connection now; no event follows for it
struct StartTimer { TimerId timer; milliseconds after; };  // replaces a running one
struct CancelTimer { TimerId timer; };
struct CollectNodeInfo {};                // off the loop; answer with NodeInfoCollected
struct CollectStats {};                   // off the loop; answer with StatsCollected
struct SetStatus { std::string text; };   // systemd STATUS=
struct Exit { int code = 0; std::optional<Failure> failure; };
struct Deliver { MasterCall call; };      // hand to the app (LinkHooks::on_master_call)
// The end of event::Call `tag`: the master's result; master_rpc_error (error reply),
// http_timeout (no reply within request_timeout) or master_unavailable (offline, link lost).
struct CallDone {
  std::uint64_t tag = 0;
  Result<rpc::Value> result;
};
struct Announce { LinkEvent event; };     // LinkHooks::on_link_event
}  // namespace action

using Action = std::variant<action::Connect, action::Send, action::Ping, action::Close, action::Abort,
                            action::StartTimer, action::CancelTimer, action::CollectNodeInfo, action::CollectStats,
                            action::SetStatus, action::Exit, action::Deliver, action::CallDone, action::Announce>;

class Session {
 public:
  // `random` returns uniform numbers in [0, 1): backoff jitter and request ids.
  Session(SessionConfig config, Clock& clock, std::function<double()> random);

  std::vector<Action> handle(const Event& event);

  LinkState state() const { return state_; }
  unsigned attempt() const { return attempt_; }
  bool node_info_received() const { return node_.has_value(); }
  const std::optional<rpc::Value>& node() const { return node_; }
  const std::string& master_version() const { return master_version_; }
  std::size_t pending_requests() const { return pending_.size(); }
  const SessionConfig& config() const { return config_; }

 private:
  using Actions = std::vector<Action>;
  void on(const event::Start&, Actions& out);
  void on(const event::Connected&, Actions& out);
  void on(const event::ConnectFailed&, Actions& out);
  void on(const event::Frame&, Actions& out);
  void on(const event::Pong&, Actions& out);
  void on(const event::Closed&, Actions& out);
  void on(const event::TimerFired&, Actions& out);
  void on(const event::NodeInfoCollected&, Actions& out);
  void on(const event::StatsCollected&, Actions& out);
  void on(const event::Stop&, Actions& out);
  void on(const event::Call&, Actions& out);
  void on(const event::Notify&, Actions& out);
  void on(const event::Reply&, Actions& out);
  void on_response(const rpc::Response& response, Actions& out);

  void dial(Actions& out);
  void link_lost(std::string why, Actions& out);
  void leave_connected(const std::string& why, Actions& out);
  void send_request(std::string method, rpc::Value params, std::optional<std::uint64_t> tag, Actions& out);
  void expire_requests(Actions& out);
  void finish(int code, std::optional<Failure> failure, Actions& out);
  std::uint32_t new_request_id();

  struct Pending {
    std::string method;
    Clock::time_point deadline;
    std::optional<std::uint64_t> tag;  // an app call (event::Call); none for /nodes/update
  };

  SessionConfig config_;
  Clock* clock_;
  std::function<double()> random_;
  LinkState state_ = LinkState::idle;
  unsigned attempt_ = 0;
  bool pong_pending_ = false;
  bool request_timer_running_ = false;
  bool stats_running_ = false;  // the stats timer runs on this connection
  bool master_info_seen_ = false;  // on this connection
  std::optional<rpc::Value> node_;
  std::string master_version_;
  std::map<std::uint32_t, Pending> pending_;
  std::set<std::uint32_t> delivered_;  // master request ids handed to the app on this connection
};

}  // namespace kn::master

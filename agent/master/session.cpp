#include "master/session.hpp"

#include "core/json_text.hpp"
#include "core/logging.hpp"
#include "master/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace kn::master {
namespace {

std::string seconds_text(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

std::string close_text(int code, const std::string& reason) {
  if (code == 0) return "connection lost";
  std::string s = "close " + std::to_string(code);
  if (!reason.empty()) s += " \"" + reason + "\"";
  return s;
}

}  // namespace

std::string_view to_string(LinkState s) {
  switch (s) {
    case LinkState::idle: return "idle";
    case LinkState::connecting: return "connecting";
    case LinkState::connected: return "connected";
    case LinkState::backoff: return "disconnected";
    case LinkState::stopping: return "stopping";
    case LinkState::stopped: return "stopped";
  }
  return "?";
}

std::string_view to_string(TimerId t) {
  switch (t) {
    case TimerId::reconnect: return "reconnect";
    case TimerId::ping: return "ping";
    case TimerId::pong_deadline: return "pong-deadline";
    case TimerId::update: return "update";
    case TimerId::stats: return "stats";
    case TimerId::request_timeout: return "request-timeout";
    case TimerId::close_deadline: return "close-deadline";
    case TimerId::master_info: return "master-info";
  }
  return "?";
}

std::string_view to_string(LinkEvent e) {
  switch (e) {
    case LinkEvent::master_info: return "master_info";
    case LinkEvent::node_info: return "node_info";
    case LinkEvent::lost: return "lost";
  }
  return "?";
}

std::optional<Errc> shutdown_errc(int code) {
  switch (code) {
    case close_code::invalid_grid_token: return Errc::master_rejected_token;
    case close_code::version_incompatible: return Errc::master_version;
    case close_code::node_removed: return Errc::master_node_removed;
    case close_code::conflict: return Errc::master_conflict;
    default: return std::nullopt;
  }
}

Session::Session(SessionConfig config, Clock& clock, std::function<double()> random)
    : config_(std::move(config)), clock_(&clock), random_(std::move(random)) {}

std::vector<Action> Session::handle(const Event& ev) {
  Actions out;
  // Nothing moves after exit, but an app call still gets its answer.
  if (state_ == LinkState::stopped && !std::holds_alternative<event::Call>(ev)) return out;
  std::visit([&](const auto& e) { on(e, out); }, ev);
  return out;
}

void Session::dial(Actions& out) {
  state_ = LinkState::connecting;
  out.emplace_back(action::SetStatus{"connecting to " + config_.url});
  out.emplace_back(action::Connect{});
}

void Session::on(const event::Start&, Actions& out) {
  if (state_ != LinkState::idle) return;
  dial(out);
}

void Session::on(const event::Connected&, Actions& out) {
  if (state_ != LinkState::connecting) return;
  state_ = LinkState::connected;
  attempt_ = 0;  // reset on a successful handshake, even if the master closes right after
  pong_pending_ = false;
  master_info_seen_ = false;
  log::get("master")->info("connected to {}", config_.url);
  out.emplace_back(action::SetStatus{"connected to " + config_.url + ", waiting for the master"});
  out.emplace_back(action::StartTimer{TimerId::ping, config_.ping_interval});
  out.emplace_back(action::StartTimer{TimerId::master_info, config_.master_info_timeout});
}

void Session::on(const event::ConnectFailed& e, Actions& out) {
  if (state_ != LinkState::connecting) return;
  link_lost(e.failure.message, out);
}

// Ends everything that lives only as long as one connection. Pending app calls fail with
// master_unavailable: their replies could only come on this connection.
void Session::leave_connected(const std::string& why, Actions& out) {
  for (auto t : {TimerId::ping, TimerId::pong_deadline, TimerId::update, TimerId::stats, TimerId::request_timeout,
                 TimerId::master_info}) {
    out.emplace_back(action::CancelTimer{t});
  }
  if (state_ == LinkState::connected) out.emplace_back(action::Announce{LinkEvent::lost});
  for (auto& [id, p] : pending_) {
    if (p.tag) {
      out.emplace_back(action::CallDone{
          *p.tag, fail(Errc::master_unavailable,
                       "failed to call " + p.method + " on the master at " + config_.url + ": " + why)});
    }
  }
  request_timer_running_ = false;
  pong_pending_ = false;
  stats_running_ = false;
  master_info_seen_ = false;
  pending_.clear();
  delivered_.clear();
}

// The connection is gone for a reason that allows another try: wait a jittered backoff.
void Session::link_lost(std::string why, Actions& out) {
  leave_connected(why, out);
  // kontena v1.5.4: agent/lib/kontena/websocket_client.rb reconnect!: the delay uses the attempt count before this
  // reconnect, so the first one after a handshake waits rand x 1 s; a node the master numbered
  // waits for its slot instead (backoff.hpp: a master restart must not bring the fleet back at once).
  std::optional<long> number;
  if (node_ && node_->is_object() && node_->contains("node_number") && (*node_)["node_number"].is_number_integer()) {
    number = (*node_)["node_number"].get<long>();
  }
  const auto delay = attempt_ == 0 && number ? reconnect_slot_delay(*number, random_(), config_.backoff_cap)
                                             : backoff_delay(attempt_, random_(), config_.backoff_cap);
  ++attempt_;
  state_ = LinkState::backoff;
  log::get("master")->warn("{}; reconnecting in {} (attempt {})", why, seconds_text(delay), attempt_);
  out.emplace_back(action::SetStatus{why + "; reconnecting in " + seconds_text(delay)});
  out.emplace_back(action::StartTimer{TimerId::reconnect, delay});
}

void Session::finish(int code, std::optional<Failure> failure, Actions& out) {
  leave_connected(failure ? failure->message : "the agent is stopping", out);
  out.emplace_back(action::CancelTimer{TimerId::reconnect});
  out.emplace_back(action::CancelTimer{TimerId::close_deadline});
  state_ = LinkState::stopped;
  out.emplace_back(action::SetStatus{failure ? "stopped: " + failure->message : "stopped"});
  out.emplace_back(action::Exit{code, std::move(failure)});
}

void Session::on(const event::Closed& e, Actions& out) {
  if (state_ == LinkState::stopping) {
    finish(exit_code::ok, std::nullopt, out);
    return;
  }
  if (state_ != LinkState::connected && state_ != LinkState::connecting) return;
  if (auto errc = shutdown_errc(e.code)) {
    const auto what = close_text(e.code, e.reason);
    std::string msg;
    switch (*errc) {
      case Errc::master_rejected_token:
        msg = "failed to join the master at " + config_.url + ": the master rejected the grid token (" + what +
              "); set the grid's token in KONTENA_TOKEN or token-file (kontena grid show --token)";
        break;
      case Errc::master_version:
        msg = "failed to join the master at " + config_.url + ": the master refused protocol version (" + what +
              ")" + (master_version_.empty() ? "" : ", master is " + master_version_) +
              "; set KONTENA_VERSION to the master's major.minor";
        break;
      case Errc::master_node_removed:
        msg = "failed to stay connected to the master at " + config_.url + ": the master removed this node (" +
              what + "); a new start registers it again";
        break;
      default:
        msg = "failed to stay connected to the master at " + config_.url +
              ": a newer connection for this node exists (" + what + "); another agent runs with node id " +
              config_.node_id;
        break;
    }
    log::get("master")->error("{}", msg);
    finish(exit_code_for(*errc), Failure(*errc, msg), out);
    return;
  }
  link_lost("disconnected from " + config_.url + ": " + close_text(e.code, e.reason), out);
}

void Session::on(const event::Pong&, Actions& out) {
  if (state_ != LinkState::connected || !pong_pending_) return;
  pong_pending_ = false;
  out.emplace_back(action::CancelTimer{TimerId::pong_deadline});
}

void Session::on(const event::TimerFired& e, Actions& out) {
  switch (e.timer) {
    case TimerId::reconnect:
      if (state_ == LinkState::backoff) dial(out);
      return;
    case TimerId::close_deadline:
      if (state_ == LinkState::stopping) {
        out.emplace_back(action::Abort{});
        finish(exit_code::ok, std::nullopt, out);
      }
      return;
    default:
      break;
  }
  if (state_ != LinkState::connected) return;
  switch (e.timer) {
    case TimerId::ping:
      if (!pong_pending_) {
        pong_pending_ = true;
        out.emplace_back(action::Ping{});
        out.emplace_back(action::StartTimer{TimerId::pong_deadline, config_.pong_timeout});
      }
      out.emplace_back(action::StartTimer{TimerId::ping, config_.ping_interval});
      return;
    case TimerId::pong_deadline:
      if (!pong_pending_) return;
      out.emplace_back(action::Abort{});
      link_lost("disconnected from " + config_.url + ": no pong within " + seconds_text(config_.pong_timeout), out);
      return;
    case TimerId::update:
      out.emplace_back(action::CollectNodeInfo{});
      out.emplace_back(action::StartTimer{TimerId::update, config_.update_interval});
      return;
    case TimerId::stats:
      out.emplace_back(action::CollectStats{});
      out.emplace_back(action::StartTimer{TimerId::stats, config_.stats_interval});
      return;
    case TimerId::request_timeout:
      request_timer_running_ = false;
      expire_requests(out);
      return;
    case TimerId::master_info:
      if (master_info_seen_) return;
      out.emplace_back(action::Abort{});
      link_lost("disconnected from " + config_.url + ": the master sent no /agent/master_info within " +
                    seconds_text(config_.master_info_timeout) +
                    " of the upgrade (does it accept KONTENA_VERSION? see its log)",
                out);
      return;
    default:
      return;
  }
}

void Session::on(const event::Frame& e, Actions& out) {
  if (state_ != LinkState::connected) return;
  auto decoded = rpc::decode(e.data);
  if (!decoded) {
    log::get("master")->warn("{} (dropped)", decoded.error().message);
    return;
  }
  auto& message = *decoded;
  if (auto* n = std::get_if<rpc::Notification>(&message)) {
    if (n->method == "/agent/master_info") {
      const auto& p = n->params;
      if (!p.empty() && p[0].is_object() && p[0].contains("version") && p[0]["version"].is_string()) {
        master_version_ = p[0]["version"].get<std::string>();
      }
      master_info_seen_ = true;
      out.emplace_back(action::CancelTimer{TimerId::master_info});
      log::get("master")->info("master {} at {} accepted the node", master_version_, config_.url);
      out.emplace_back(action::SetStatus{"connected to " + config_.url +
                                         (master_version_.empty() ? "" : " (master " + master_version_ + ")")});
      // kontena v1.5.4: agent/lib/kontena/workers/node_info_worker.rb: /nodes/update on each websocket:connected, then every 60 s.
      out.emplace_back(action::CollectNodeInfo{});
      out.emplace_back(action::StartTimer{TimerId::update, config_.update_interval});
      out.emplace_back(action::Announce{LinkEvent::master_info});
    } else if (n->method == "/agent/node_info") {
      const auto& p = n->params;
      if (p.empty() || !p[0].is_object()) {
        log::get("master")->warn("ignored /agent/node_info without a node object");
        return;
      }
      node_ = p[0];
      log::get("master")->debug("node_info: {}", json_text(*node_));
      if (!stats_running_) {
        // kontena v1.5.4: agent/lib/kontena/workers/node_stats_worker.rb starts on the first node_info of each connection.
        stats_running_ = true;
        out.emplace_back(action::CollectStats{});
        out.emplace_back(action::StartTimer{TimerId::stats, config_.stats_interval});
      }
      out.emplace_back(action::Announce{LinkEvent::node_info});
    } else if (config_.served_methods.contains(n->method)) {
      out.emplace_back(action::Deliver{MasterCall{std::nullopt, n->method, std::move(n->params)}});
    } else {
      log::get("master")->debug("ignored notification {}", n->method);
    }
    return;
  }
  if (auto* r = std::get_if<rpc::Request>(&message)) {
    if (config_.served_methods.contains(r->method)) {
      delivered_.insert(r->id);
      out.emplace_back(action::Deliver{MasterCall{r->id, r->method, std::move(r->params)}});
      return;
    }
    // Answer every request nobody serves at once with 501, so the master does not wait
    // 300 s for its timeout.
    log::get("master")->info("answered request {} with 501 service not implemented", r->method);
    out.emplace_back(action::Send{rpc::encode(rpc::not_implemented(r->id))});
    return;
  }
  on_response(std::get<rpc::Response>(message), out);
}

namespace {

// The master's error object is {code, message}; the 501 of an unknown method has {code, error}
// (docs/protocol.md section 3, "Errors").
std::string error_text(const rpc::Value& error) {
  std::string text;
  for (const char* key : {"message", "error"}) {
    if (error.is_object() && error.contains(key) && error[key].is_string()) {
      text = error[key].get<std::string>();
      break;
    }
  }
  if (text.empty()) text = json_text(error);
  if (error.is_object() && error.contains("code") && error["code"].is_number_integer()) {
    text += " (code " + std::to_string(error["code"].get<std::int64_t>()) + ")";
  }
  return text;
}

}  // namespace

void Session::on_response(const rpc::Response& resp, Actions& out) {
  auto it = pending_.find(resp.id);
  if (it == pending_.end()) {
    log::get("master")->debug("ignored response to unknown or expired request {}", resp.id);
    return;
  }
  auto p = std::move(it->second);
  pending_.erase(it);
  if (!resp.error.is_null()) {
    if (p.tag) {
      log::get("master")->debug("master answered {} with error {}", p.method, json_text(resp.error));
      out.emplace_back(action::CallDone{*p.tag, fail(Errc::master_rpc_error, "failed to call " + p.method +
                                                                                 " on the master at " + config_.url +
                                                                                 ": " + error_text(resp.error))});
    } else {
      log::get("master")->warn("master answered {} with error {}", p.method, json_text(resp.error));
    }
    return;
  }
  // Never the body: pods carry registry passwords and secrets.
  log::get("master")->debug("master answered {}", p.method);
  if (p.tag) out.emplace_back(action::CallDone{*p.tag, resp.result});
}

void Session::on(const event::Call& e, Actions& out) {
  if (state_ != LinkState::connected) {
    out.emplace_back(action::CallDone{
        e.tag, fail(Errc::master_unavailable, "failed to call " + e.method + " on the master at " + config_.url +
                                                  ": not connected (" + std::string(to_string(state_)) + ")")});
    return;
  }
  send_request(e.method, e.params.is_array() ? e.params : rpc::Value::array({e.params}), e.tag, out);
}

void Session::on(const event::Notify& e, Actions& out) {
  if (state_ != LinkState::connected) {
    log::get("master")->debug("dropped notification {}: not connected to {}", e.method, config_.url);
    return;
  }
  out.emplace_back(action::Send{rpc::encode(
      rpc::Notification{e.method, e.params.is_array() ? e.params : rpc::Value::array({e.params})})});
}

void Session::on(const event::Reply& e, Actions& out) {
  // Only a request of this connection can be answered, and only once.
  if (state_ != LinkState::connected || delivered_.erase(e.request_id) == 0) {
    log::get("master")->debug("dropped the reply to master request {}: not outstanding on this connection",
                              e.request_id);
    return;
  }
  rpc::Response response{e.request_id, nullptr, nullptr};
  if (e.result) {
    response.result = *e.result;
  } else {
    // kontena v1.5.4: agent/lib/kontena/rpc_server.rb: a handler's failure goes back as {code: 500, message},
    // except that agent/lib/kontena/rpc/docker_container_api.rb raises 404 for a missing container
    // or exec session, which the master's callers tell apart (server/app/services/docker/container_inspector.rb).
    const int code = e.result.error().is(Errc::docker_not_found) ? 404 : 500;
    response.error = rpc::Value{{"code", code}, {"message", e.result.error().message}};
  }
  out.emplace_back(action::Send{rpc::encode(response)});
}

void Session::on(const event::NodeInfoCollected& e, Actions& out) {
  if (state_ != LinkState::connected) return;
  send_request("/nodes/update", rpc::Value::array({config_.node_id, e.info}), std::nullopt, out);
}

void Session::on(const event::StatsCollected& e, Actions& out) {
  if (state_ != LinkState::connected || !node_) return;
  // kontena v1.5.4: agent/lib/kontena/workers/node_stats_worker.rb: params [node.id, stats]; node.id is the node_id.
  rpc::Value id = node_->contains("id") ? (*node_)["id"] : rpc::Value(config_.node_id);
  out.emplace_back(action::Send{rpc::encode(rpc::Notification{"/nodes/stats", rpc::Value::array({id, e.stats})})});
}

void Session::on(const event::Stop&, Actions& out) {
  switch (state_) {
    case LinkState::connected:
      leave_connected("the agent is stopping", out);
      state_ = LinkState::stopping;
      out.emplace_back(action::SetStatus{"stopping: closing the connection to " + config_.url});
      out.emplace_back(action::Close{close_code::normal, "agent stopping"});
      out.emplace_back(action::StartTimer{TimerId::close_deadline, config_.close_timeout});
      return;
    case LinkState::connecting:
      out.emplace_back(action::Abort{});
      finish(exit_code::ok, std::nullopt, out);
      return;
    case LinkState::idle:
    case LinkState::backoff:
      finish(exit_code::ok, std::nullopt, out);
      return;
    case LinkState::stopping:
    case LinkState::stopped:
      return;
  }
}

std::uint32_t Session::new_request_id() {
  // kontena v1.5.4: agent/lib/kontena/rpc_client.rb: a random id in 1..2^31 that is not outstanding.
  // On a collision probe the next ids, so a poor random source cannot stall the loop.
  auto id = static_cast<std::uint32_t>(1 + std::floor(std::clamp(random_(), 0.0, 0.999999) * 2147483647.0));
  while (pending_.contains(id)) id = id % 2147483647U + 1;
  return id;
}

void Session::send_request(std::string method, rpc::Value params, std::optional<std::uint64_t> tag,
                           Actions& out) {
  const auto id = new_request_id();
  out.emplace_back(action::Send{rpc::encode(rpc::Request{id, method, std::move(params)})});
  pending_.emplace(id, Pending{std::move(method), clock_->now() + config_.request_timeout, tag});
  if (!request_timer_running_) {
    request_timer_running_ = true;
    out.emplace_back(action::StartTimer{TimerId::request_timeout, config_.request_timeout});
  }
}

void Session::expire_requests(Actions& out) {
  const auto now = clock_->now();
  std::optional<Clock::time_point> next;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      const auto& p = it->second;
      if (p.tag) {
        out.emplace_back(action::CallDone{*p.tag, fail(Errc::http_timeout, "failed to call " + p.method +
                                                                               " on the master at " + config_.url +
                                                                               ": no reply within " +
                                                                               seconds_text(config_.request_timeout))});
      } else {
        log::get("master")->warn("no reply to {} within {}; dropped", p.method, seconds_text(config_.request_timeout));
      }
      it = pending_.erase(it);
    } else {
      if (!next || it->second.deadline < *next) next = it->second.deadline;
      ++it;
    }
  }
  if (next) {
    request_timer_running_ = true;
    out.emplace_back(action::StartTimer{
        TimerId::request_timeout, std::chrono::duration_cast<milliseconds>(*next - now) + milliseconds(1)});
  }
}

}  // namespace kn::master

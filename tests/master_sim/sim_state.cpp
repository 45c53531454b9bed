#include "sim_state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

namespace kn::master_sim {
namespace {

struct Field {
  const char* name;
  milliseconds RuntimeConfig::*member;
};

constexpr Field kFields[] = {
    {"ping_interval_ms", &RuntimeConfig::ping_interval},   {"pong_timeout_ms", &RuntimeConfig::pong_timeout},
    {"clock_skew_past_ms", &RuntimeConfig::skew_past},     {"clock_skew_future_ms", &RuntimeConfig::skew_future},
    {"stale_after_ms", &RuntimeConfig::stale_after},       {"cleanup_interval_ms", &RuntimeConfig::cleanup_interval},
    {"destroy_after_ms", &RuntimeConfig::destroy_after},   {"destroy_interval_ms", &RuntimeConfig::destroy_interval},
    {"notify_timeout_ms", &RuntimeConfig::notify_timeout}, {"deploy_timeout_ms", &RuntimeConfig::deploy_timeout},
    {"deploy_poll_ms", &RuntimeConfig::deploy_poll},       {"scheduler_interval_ms", &RuntimeConfig::scheduler_interval},
    {"daemon_grace_ms", &RuntimeConfig::daemon_grace},     {"ha_grace_ms", &RuntimeConfig::ha_grace},
    {"read_delay_ms", &RuntimeConfig::read_delay},
};

// The master picks a random request id below 2147483647 (server/app/services/rpc_client.rb).
std::uint32_t random_id() {
  static std::mt19937 rng{std::random_device{}()};
  return std::uniform_int_distribution<std::uint32_t>{1, 2147483646U}(rng);
}

}  // namespace

Json RuntimeConfig::to_json() const {
  Json j = Json::object();
  for (const auto& f : kFields) j[f.name] = (this->*f.member).count();
  return j;
}

std::optional<std::string> RuntimeConfig::apply(const Json& changes) {
  if (!changes.is_object()) return "the body must be a JSON object";
  RuntimeConfig next = *this;
  for (const auto& [key, value] : changes.items()) {
    const Field* field = nullptr;
    for (const auto& f : kFields) {
      if (key == f.name) field = &f;
    }
    if (field == nullptr) return "unknown setting '" + key + "'";
    const bool may_be_zero = field->member == &RuntimeConfig::read_delay;  // 0 turns it off
    if (!value.is_number_integer() || value.get<std::int64_t>() < (may_be_zero ? 0 : 1)) {
      return key + (may_be_zero ? " must be a non-negative integer" : " must be a positive integer");
    }
    next.*(field->member) = milliseconds(value.get<std::int64_t>());
  }
  *this = next;
  return std::nullopt;
}

boost::asio::awaitable<std::optional<rpc::Response>> Session::request(std::string method, Json params,
                                                                      milliseconds timeout) {
  std::uint32_t id = random_id();
  while (pending_.count(id) != 0) id = random_id();
  auto pending = std::make_shared<Pending>(executor_);
  pending_[id] = pending;
  send(rpc::Request{id, std::move(method), std::move(params)});
  pending->timer.expires_after(timeout);
  co_await pending->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  pending_.erase(id);
  co_return pending->response;
}

void Session::deliver(const rpc::Response& response) {
  auto it = pending_.find(response.id);
  if (it == pending_.end()) return;
  it->second->response = response;
  it->second->timer.cancel();
}

void Session::abandon_requests() {
  for (auto& [id, p] : pending_) p->timer.cancel();
}

std::vector<Session*> SimState::sessions_of(NodeKey key, bool live_only) {
  std::vector<Session*> out;
  const Node* node = registry.find(key);
  for (Session* s : sessions) {
    if (s->node != key || !s->registered) continue;
    if (live_only && (node == nullptr || !node->connected_at || s->connected_at != node->connected_at)) continue;
    out.push_back(s);
  }
  return out;
}

void SimState::notify_grid(const std::string& grid) {
  for (Session* s : sessions) {
    if (!s->registered || s->grid != grid) continue;
    const Node* node = registry.find(s->node);
    if (node == nullptr || !node->connected || node->connected_at != s->connected_at) continue;
    s->send(rpc::Notification{"/agent/node_info", Json::array({registry.node_info(*node)})});
  }
}

Json SimState::counters_json() const {
  Json rejections = Json::object();
  for (const auto& [code, n] : counters.rejections) rejections[std::to_string(code)] = n;
  std::uint64_t online = 0;
  for (const auto& [name, g] : registry.grids()) {
    for (const Node* n : registry.nodes_of(name)) {
      if (n->status() == "online") ++online;
    }
  }
  return {
      {"connections", counters.connections},   {"handshakes", counters.handshakes},
      {"accepted", counters.accepted},         {"unregistered", counters.unregistered},
      {"rejections", rejections},              {"requests", counters.requests},
      {"notifications", counters.notifications}, {"dropped_frames", counters.dropped_frames},
      {"http_requests", counters.http_requests}, {"nodes", registry.size()},
      {"online", online},                      {"last_rejection", counters.last_rejection},
  };
}

}  // namespace kn::master_sim

#include "deployer.hpp"

#include "volumes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>

namespace kn::master_sim {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

awaitable<void> sleep_for(milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(kUse);
}

// Ruby's Float#to_s for a duration in seconds: 5.0, 0.2, 300.0.
std::string ruby_seconds(milliseconds d) {
  char out[32];
  std::snprintf(out, sizeof out, "%.3g", static_cast<double>(d.count()) / 1000.0);
  std::string s = out;
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

// "%.1f" of a duration in seconds, as WaitHelper#wait_until! prints it.
std::string one_decimal(milliseconds d) {
  char out[32];
  std::snprintf(out, sizeof out, "%.1f", static_cast<double>(d.count()) / 1000.0);
  return out;
}

std::string node_path(const Node& n) { return n.grid + "/" + n.name; }

std::vector<Node*> connected_nodes(SimState& st, const std::string& grid) {
  std::vector<Node*> out;
  for (Node* n : st.registry.nodes_of(grid)) {
    if (n->connected) out.push_back(n);
  }
  return out;
}

// RpcClient#notify: goes to the node's live connection, or nowhere.
void notify_node(SimState& st, NodeKey node, const std::string& action) {
  for (Session* s : st.sessions_of(node, true)) {
    s->send(rpc::Notification{"/service_pods/notify_update", Json::array({action})});
  }
}

// GridServiceInstanceDeployer#deploy_service_instance. Returns "" or "Class: message".
awaitable<std::string> apply_instance(SimState& st, std::string service_id, int number, NodeKey node_key,
                                      std::string rev, std::string desired) {
  Node* node = st.registry.find(node_key);
  if (node == nullptr) co_return std::string("GridServiceInstanceDeployer::NodeError: Host node is missing");
  if (!node->connected) co_return std::string("GridServiceInstanceDeployer::NodeError: Host node is offline");
  const std::string node_name = node_path(*node);
  Service* s = st.services.find(service_id);
  if (s == nullptr) co_return std::string("Mongoid::Errors::DocumentNotFound: the service was removed");
  const std::string path = s->to_path();
  Instance& inst = s->instances[number];
  inst.number = number;
  inst.host_node = node_key;
  inst.deploy_rev = rev;
  inst.desired_state = desired;
  inst.rev.reset();

  // notify_node: a request with a 5 s timeout; the params are [[]] (RpcClient#request splats []).
  std::optional<rpc::Response> response;
  auto sessions = st.sessions_of(node_key, true);
  if (!sessions.empty()) {
    auto session = sessions.front()->shared_from_this();
    // The params are prepared outside the co_await: GCC 12 rejects a braced list inside one
    // ("array used as initializer").
    Json params = Json::array();
    params.push_back(Json::array());
    response = co_await session->request("/service_pods/notify_update", std::move(params), st.config.notify_timeout);
  } else {
    co_await sleep_for(st.config.notify_timeout);  // published to nobody: the request times out
  }
  if (!response) co_return "RpcClient::TimeoutError: Connection timeout (" + ruby_seconds(st.config.notify_timeout) + "s)";
  if (!response->error.is_null()) {
    // RpcClient::Error.new(code, error['message']): a 501 carries "error", not "message", so
    // the message is nil and Ruby prints the class name.
    const Json& e = response->error;
    const std::string message = e.is_object() && e.contains("message") && e["message"].is_string()
                                    ? e["message"].get<std::string>()
                                    : std::string("RpcClient::Error");
    co_return "RpcClient::Error: " + message;
  }

  const auto deadline = std::chrono::steady_clock::now() + st.config.deploy_timeout;
  for (;;) {
    s = st.services.find(service_id);
    if (s == nullptr || s->instances.count(number) == 0) {
      co_return std::string("Mongoid::Errors::DocumentNotFound: the service instance was removed");
    }
    const Instance& now_inst = s->instances[number];
    if (now_inst.rev && *now_inst.rev >= rev) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return "Timeout::Error: Timeout after waiting " + one_decimal(st.config.deploy_timeout) + "s until: service " +
          path + "-" +
          std::to_string(number) + " is " + desired + " on node " + node_name + " at " + rev;
    }
    co_await sleep_for(std::min<milliseconds>(st.config.deploy_poll, st.config.deploy_timeout));
  }
  const Instance& done = st.services.find(service_id)->instances[number];
  if (done.error) co_return "GridServiceInstanceDeployer::ServiceError: " + *done.error;
  if (*done.rev > rev) co_return std::string("GridServiceInstanceDeployer::StateError: Service instance was re-deployed");
  if (done.state != desired) {
    co_return "GridServiceInstanceDeployer::StateError: Service instance is not " + desired + ", but " + done.state;
  }
  co_return std::string();
}

// GridServiceInstanceDeployer#deploy (ensure_service_instance).
awaitable<std::string> deploy_instance(SimState& st, std::string service_id, int number, NodeKey node_key,
                                       std::string rev) {
  Service* s = st.services.find(service_id);
  if (s == nullptr) co_return std::string("Mongoid::Errors::DocumentNotFound: the service was removed");
  auto it = s->instances.find(number);
  if (it != s->instances.end() && it->second.host_node && *it->second.host_node != node_key) {
    Node* old = st.registry.find(*it->second.host_node);
    const std::string label = s->to_path() + "-" + std::to_string(number);
    if (old == nullptr) {
      log_service_event(*s, 2, "service:deploy", "Replacing orphaned service " + label + " on destroyed node");
    } else {
      // The instance moves: first `stopped` on its old node; a failure there is only logged.
      const std::string old_name = old->name;
      log_service_event(*s, 1, "service:deploy",
                        "Stopping existing service service " + label + " on previous node " + old_name + "...");
      auto err = co_await apply_instance(st, service_id, number, old->key, rev, "stopped");
      if (!err.empty()) {
        if (Service* again = st.services.find(service_id)) {
          log_service_event(*again, 2, "service:deploy",
                            "Failed to stop existing service " + label + " on previous node " + old_name + ": " + err);
        }
      }
    }
  }
  auto err = co_await ensure_volume_instances(st, service_id, number, node_key);
  if (err.empty()) err = co_await apply_instance(st, service_id, number, node_key, rev, "running");
  if (!err.empty()) {
    if (Service* again = st.services.find(service_id)) {
      const Node* node = st.registry.find(node_key);
      log_service_event(*again, 3, "service:deploy",
                        "Failed to deploy service instance " + again->to_path() + "-" + std::to_string(number) +
                            " to node " + (node != nullptr ? node->name : std::string("?")) + ": " + err);
      st.log->warn("instance deploy failed: {}-{}: {}", again->to_path(), number, err);
    }
  }
  co_return err;
}

void start_pending(SimState& st);

// GridServiceDeployer#deploy.
awaitable<void> run_deploy(SimState& st, std::uint64_t deploy_id) {
  Deploy* d = st.services.deploy(deploy_id);
  const std::string service_id = d->service_id;
  auto finish = [&](const std::string& failure) {
    Deploy* dd = st.services.deploy(deploy_id);
    dd->state = failure.empty() ? "success" : "error";
    dd->reason = failure;
    dd->finished_at = now();
    start_pending(st);
  };
  Service* s = st.services.find(service_id);
  if (s == nullptr || s->state != "running") {
    // GridServiceSchedulerWorker#check_deploy_queue aborts a deploy of a non-running service.
    finish("service is not running");
    co_return;
  }
  const std::string path = s->to_path();
  d->started_at = now();
  log_service_event(*s, 1, "service:deploy", "service " + path + " deploy started");
  const std::string rev = st.services.next_deploy_rev(*s, now());
  d->deploy_rev = rev;
  s->deployed_at = now();
  st.log->info("deploy started service={} deploy_rev=\"{}\"", path, rev);

  const auto nodes = connected_nodes(st, s->grid);
  const int total = instance_count(st.services, *s, nodes);
  std::erase_if(s->instances, [&](const auto& kv) { return kv.first > total; });
  std::vector<Candidate> candidates;
  for (Node* n : nodes) candidates.push_back(Candidate{n, {}});

  std::string failure;
  for (int i = 1; i <= total && failure.empty(); ++i) {
    s = st.services.find(service_id);
    if (s == nullptr || s->state != "running") {
      failure = "halting deploy of " + path + ", desired state has changed";
      break;
    }
    // Nodes may have gone since the deploy started; a removed one is no candidate.
    std::erase_if(candidates, [&](const Candidate& c) { return st.registry.find(c.node->key) != c.node; });
    auto placed = select_node(st.services, *s, i, candidates);
    if (placed.node == nullptr) {
      failure = "Cannot find applicable node for service instance " + path + "-" + std::to_string(i) + ": " +
                placed.error;
      break;
    }
    st.services.deploy(deploy_id)->instances.push_back(InstanceDeploy{i, placed.node->name, "ongoing", {}});
    auto err = co_await deploy_instance(st, service_id, i, placed.node->key, rev);
    auto& record = st.services.deploy(deploy_id)->instances.back();
    record.state = err.empty() ? "success" : "error";
    record.error = err;
    if (!err.empty()) failure = "halting deploy of " + path + ", one or more instances failed";
  }
  if (Service* again = st.services.find(service_id)) {
    if (failure.empty()) {
      log_service_event(*again, 1, "service:deploy", "service " + path + " deployed");
    } else {
      log_service_event(*again, 3, "service:deploy", "deploy of " + path + " errored: " + failure);
    }
  }
  st.log->info("deploy finished service={} deploy_rev=\"{}\" {}", path, rev,
               failure.empty() ? std::string("success") : "error: " + failure);
  finish(failure);
}

// GridServiceSchedulerWorker: the oldest queued deploy of each service without one running.
void start_pending(SimState& st) {
  std::set<std::string> busy;
  for (const auto& d : st.services.deploys()) {
    if (d.state == "ongoing") busy.insert(d.service_id);
  }
  for (auto& d : st.services.deploys()) {
    if (d.state != "created" || busy.count(d.service_id) != 0) continue;
    busy.insert(d.service_id);
    d.state = "ongoing";
    asio::co_spawn(st.executor, run_deploy(st, d.id), asio::detached);
  }
}

// GridScheduler#all_instances_exist?
bool all_instances_exist(SimState& st, Service& s) {
  auto available = connected_nodes(st, s.grid);
  if (available.empty()) return true;
  const auto grace = s.strategy == "daemon" ? st.config.daemon_grace : st.config.ha_grace;
  std::vector<NodeKey> current;
  std::size_t placed = 0;
  for (const auto& [n, inst] : s.instances) {
    Node* node = inst.host_node ? st.registry.find(*inst.host_node) : nullptr;
    if (node == nullptr) continue;
    ++placed;
    if (std::find(current.begin(), current.end(), node->key) == current.end()) current.push_back(node->key);
    if (!node->connected && node->last_seen_at && *node->last_seen_at > now() - grace &&
        std::find(available.begin(), available.end(), node) == available.end()) {
      available.push_back(node);
    }
  }
  const int count = instance_count(st.services, s, available);
  if (static_cast<std::size_t>(count) != placed) return false;
  std::vector<Candidate> candidates;
  for (Node* n : available) candidates.push_back(Candidate{n, {}});
  std::vector<NodeKey> selected;
  for (int i = 1; i <= count; ++i) {
    auto p = select_node(st.services, s, i, candidates);
    if (p.node != nullptr && std::find(selected.begin(), selected.end(), p.node->key) == selected.end()) {
      selected.push_back(p.node->key);
    }
  }
  std::sort(selected.begin(), selected.end());
  std::sort(current.begin(), current.end());
  return selected == current;
}

void schedule_grids(SimState& st) {
  for (const auto& [grid, g] : st.registry.grids()) {
    for (Service* s : st.services.of_grid(grid)) {
      if (s->stateful || s->state != "running" || st.services.deploying(s->id)) continue;
      std::string why;
      if (!all_instances_exist(st, *s)) {
        why = "service " + s->to_path() + " has wrong number of instances (or they are not distributed correctly)";
      } else if (s->deployed_at && s->updated_at > *s->deployed_at) {
        why = "service " + s->to_path() + " does have older version running";
      }
      if (why.empty()) continue;
      st.log->info("scheduler: {}", why);
      log_service_event(*s, 1, "scheduler", why);
      request_deploy(st, *s);
    }
  }
}

// GridSchedulerJob#perform. A config change cancels the wait and recomputes it.
awaitable<void> scheduler_loop(SimState& state, std::shared_ptr<asio::steady_timer> timer) {
  auto last = std::chrono::steady_clock::now();
  for (;;) {
    const auto due = last + state.config.scheduler_interval;
    timer->expires_at(due);
    auto [ec] = co_await timer->async_wait(kUse);
    if (ec && ec != asio::error::operation_aborted) co_return;
    if (std::chrono::steady_clock::now() < due) continue;
    last = std::chrono::steady_clock::now();
    schedule_grids(state);
  }
}

}  // namespace

void log_service_event(Service& service, int severity, std::string type, std::string msg) {
  service.events.push_back(EventEntry{now(), severity, std::move(type), std::move(msg), {}, std::nullopt});
}

std::uint64_t request_deploy(SimState& state, Service& service) {
  service.state = "running";
  const auto id = state.services.create_deploy(service.id, now()).id;
  start_pending(state);
  return id;
}

void start_service(SimState& state, Service& service) {
  service.state = "running";
  for (auto& [n, inst] : service.instances) {
    inst.desired_state = "running";
    if (inst.host_node) notify_node(state, *inst.host_node, "start");
  }
}

void stop_service(SimState& state, Service& service) {
  service.state = "stopped";
  for (auto& [n, inst] : service.instances) {
    inst.desired_state = "stopped";
    if (inst.host_node) notify_node(state, *inst.host_node, "stop");
  }
  state.log->info("service stopped service={}", service.to_path());
}

void delete_service(SimState& state, const std::string& service_id) {
  Service* s = state.services.find(service_id);
  if (s == nullptr) return;
  std::vector<NodeKey> nodes;
  for (const auto& [n, inst] : s->instances) {
    if (inst.host_node) nodes.push_back(*inst.host_node);
  }
  state.log->info("service removed service={}", s->to_path());
  state.services.remove(service_id);
  for (NodeKey node : nodes) notify_node(state, node, "terminate");
}

void remove_stack(SimState& state, const std::string& grid, const std::string& stack) {
  const auto services = state.services.of_stack(grid, stack);
  for (Service* s : services) stop_service(state, *s);
  std::vector<std::string> ids;
  for (Service* s : services) ids.push_back(s->id);
  for (const auto& id : ids) delete_service(state, id);
}

void start_service_jobs(SimState& state) {
  auto timer = std::make_shared<asio::steady_timer>(state.executor);
  auto previous = state.on_config_changed;
  state.on_config_changed = [previous, timer] {
    if (previous) previous();
    timer->cancel();
  };
  asio::co_spawn(state.executor, scheduler_loop(state, timer), asio::detached);
}

}  // namespace kn::master_sim

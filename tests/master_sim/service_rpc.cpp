#include "service_rpc.hpp"

#include "container_logs.hpp"
#include "container_stats.hpp"

#include <algorithm>
#include <functional>
#include <map>

namespace kn::master_sim {
namespace {

// What a Ruby handler does: returns a value or raises (RpcServer#handle_request turns the
// exception into {code: 500, message: "Class: msg"}).
struct Outcome {
  Json result;
  std::string klass;  // empty: returned normally
  std::string message;
};
using Handler = std::function<Outcome(SimState&, const std::string& grid, const Json& params)>;

Outcome raised(std::string message, std::string klass = "RuntimeError") {
  return Outcome{nullptr, std::move(klass), std::move(message)};
}

Outcome not_a_hash(const Json& value) { return raised("undefined method `[]' for " + value.dump(), "NoMethodError"); }

std::string string_param(const Json& params, std::size_t i) {
  return params[i].is_string() ? params[i].get<std::string>() : params[i].dump();
}

// The instance of pod's {service_id, instance_number} on `node` (nullptr: "Instance not found").
Instance* instance_of(SimState& st, const Node& node, const Json& pod, Service*& service) {
  const std::string sid = pod.value("service_id", Json("")).is_string() ? pod.value("service_id", "") : "";
  const Json number = pod.value("instance_number", Json(nullptr));
  service = st.services.find(sid);
  if (service == nullptr || !number.is_number_integer()) return nullptr;
  auto it = service->instances.find(number.get<int>());
  return it != service->instances.end() && it->second.host_node == node.key ? &it->second : nullptr;
}

Outcome list(SimState& st, const std::string& grid, const Json& p) {
  Node* found = st.registry.find_by_node_id(grid, string_param(p, 0));
  if (found == nullptr) return raised("Node not found");
  const Node& node = *found;
  auto placed = st.services.instances_on(node.key);
  std::sort(placed.begin(), placed.end(), [](const auto& a, const auto& b) {
    return std::pair(a.first->id, a.second->number) < std::pair(b.first->id, b.second->number);
  });
  Json pods = Json::array();
  for (auto& [svc, inst] : placed) {
    if (svc->grid == grid) pods.push_back(service_pod(st.services, *svc, *inst, node));
  }
  return {Json{{"service_pods", pods}}, {}, {}};
}

Outcome set_state(SimState& st, const std::string& grid, const Json& p) {
  Node* node = st.registry.find_by_node_id(grid, string_param(p, 0));
  if (node == nullptr) return raised("Node not found");
  const Json& pod = p[1];
  if (!pod.is_object()) return not_a_hash(pod);
  Service* svc = nullptr;
  Instance* found = instance_of(st, *node, pod, svc);
  if (found == nullptr) return raised("Instance not found");
  Instance& inst = *found;
  auto text = [&](const char* k) -> std::optional<std::string> {
    if (!pod.contains(k) || pod[k].is_null()) return std::nullopt;
    return pod[k].is_string() ? pod[k].get<std::string>() : pod[k].dump();
  };
  inst.rev = text("rev");
  inst.state = text("state").value_or("");
  inst.error = text("error");
  st.log->info("set_state service={}-{} node={} rev=\"{}\" state={}{}", svc->to_path(), inst.number, node->name,
               inst.rev.value_or("nil"), inst.state, inst.error ? " error=\"" + *inst.error + "\"" : "");
  return {Json::object(), {}, {}};
}

Outcome mark_oneshot_hook(SimState& st, const std::string& grid, const Json& p) {
  Node* node = st.registry.find_by_node_id(grid, string_param(p, 0));
  if (node == nullptr) return raised("Node not found");
  if (!p[1].is_object()) return not_a_hash(p[1]);
  Service* svc = nullptr;
  Instance* inst = instance_of(st, *node, p[1], svc);
  if (inst == nullptr) return raised("Instance not found");
  const Json& hook = p[2];
  if (!hook.is_object()) return not_a_hash(hook);
  for (auto& h : svc->spec["hooks"]) {
    if (h.value("oneshot", false) && h.value("id", "") == hook.value("id", "")) {
      h["done"].push_back(std::to_string(inst->number));
      return {Json::object(), {}, {}};
    }
  }
  return raised("Hook not found: " + hook.dump());
}

// Rpc::NodeServicePodHandler#event: an EventLog row; unknown nodes and services are ignored.
Outcome event(SimState& st, const std::string& grid, const Json& p) {
  Node* node = st.registry.find_by_node_id(grid, string_param(p, 0));
  if (node == nullptr) return {};
  if (!p[1].is_object()) return not_a_hash(p[1]);
  const Json& e = p[1];
  Service* svc = e.contains("service_id") && e["service_id"].is_string()
                     ? st.services.find(e["service_id"].get<std::string>())
                     : nullptr;
  if (svc == nullptr || svc->grid != grid) return {};
  EventEntry entry;
  entry.time = now();
  entry.severity = e.contains("severity") && e["severity"].is_number_integer() ? e["severity"].get<int>() : 1;
  entry.type = e.value("type", Json("")).is_string() ? e.value("type", "") : "";
  entry.msg = e.contains("data") ? (e["data"].is_string() ? e["data"].get<std::string>() : e["data"].dump()) : "";
  entry.node = node->name;
  if (e.contains("instance_number") && e["instance_number"].is_number_integer()) {
    entry.instance_number = e["instance_number"].get<int>();
  }
  st.log->info("service event service={} node={} type={} {}", svc->to_path(), node->name, entry.type, entry.msg);
  svc->events.push_back(std::move(entry));
  return {};
}

Outcome containers_save(SimState& st, const std::string& grid, const Json& p) {
  if (auto problem = save_container(st.registry, st.services, grid, p[0], now())) {
    const auto colon = problem->find(": ");
    return raised(problem->substr(colon + 2), problem->substr(0, colon));
  }
  return {Json::object(), {}, {}};
}

// Rpc::ContainerHandler#event: a destroy deletes the record.
Outcome containers_event(SimState& st, const std::string& grid, const Json& p) {
  const Json& e = p[0];
  if (!e.is_object()) return not_a_hash(e);
  const std::string id = e.value("id", Json("")).is_string() ? e.value("id", "") : "";
  auto& containers = st.services.containers();
  auto it = containers.find(id);
  if (it != containers.end() && it->second.grid == grid && e.value("status", Json("")) == "destroy") {
    containers.erase(it);
  }
  return {Json::object(), {}, {}};
}

Outcome containers_cleanup(SimState& st, const std::string& grid, const Json& p) {
  Node* node = st.registry.find_by_node_id(grid, string_param(p, 0));
  if (node == nullptr) return {};
  if (!p[1].is_array()) return raised("undefined method `in' for " + p[1].dump(), "NoMethodError");
  int removed = 0;
  for (const auto& id : p[1]) {
    if (!id.is_string()) continue;
    auto& containers = st.services.containers();
    auto it = containers.find(id.get<std::string>());
    if (it != containers.end() && it->second.node == node->key) {
      containers.erase(it);
      ++removed;
    }
  }
  return {removed, {}, {}};
}

Outcome containers_health(SimState& st, const std::string& grid, const Json& p) {
  const Json& h = p[0];
  if (!h.is_object()) return not_a_hash(h);
  auto& containers = st.services.containers();
  auto it = containers.find(h.value("id", Json("")).is_string() ? h.value("id", "") : "");
  if (it != containers.end() && it->second.grid == grid && h.contains("status") && h["status"].is_string()) {
    it->second.health_status = h["status"].get<std::string>();
  }
  return {};
}

struct Method {
  std::size_t arity;
  Handler run;
};

const std::map<std::string, Method>& methods() {
  static const std::map<std::string, Method> table = {
      {"/node_service_pods/list", {1, list}},
      {"/node_service_pods/set_state", {2, set_state}},
      {"/node_service_pods/mark_oneshot_hook", {3, mark_oneshot_hook}},
      {"/node_service_pods/event", {2, event}},
      {"/containers/save", {1, containers_save}},
      {"/containers/event", {1, containers_event}},
      {"/containers/cleanup", {2, containers_cleanup}},
      {"/containers/health", {1, containers_health}},
      {"/containers/log_batch", {1, [](SimState& s, const std::string& g, const Json& p) {
                                   store_log_batch(s, g, p);  // container_logs.hpp
                                   return Outcome{};
                                 }}},
      {"/containers/stat", {1, [](SimState& st, const std::string& g, const Json& p) { return store_container_stat(st, g, p[0]) ? Outcome{} : not_a_hash(p[0]); }}},
      {"/container_exec/output",
       {3, [](SimState& st, const std::string&, const Json& p) { return exec_output(st, p), Outcome{}; }}},
      {"/container_exec/exit",
       {2, [](SimState& st, const std::string&, const Json& p) { return exec_exit(st, p), Outcome{}; }}},
      {"/container_exec/error",
       {2, [](SimState& st, const std::string&, const Json& p) { return exec_error(st, p), Outcome{}; }}},
  };
  return table;
}

// Ruby's Object#send(method, *params): the arity is checked first.
Outcome call(SimState& st, const std::string& grid, const Method& m, const Json& params) {
  const Json p = params.is_array() ? params : Json::array({params});
  if (p.size() != m.arity) {
    return raised("wrong number of arguments (given " + std::to_string(p.size()) + ", expected " + std::to_string(m.arity) +
              ")",
          "ArgumentError");
  }
  return m.run(st, grid, p);
}

}  // namespace

Json ruby_error(const std::string& message, const std::string& klass) {
  return {{"code", 500}, {"message", klass + ": " + message}};
}

std::optional<rpc::Response> handle_service_request(SimState& state, const std::string& grid,
                                                    const rpc::Request& request) {
  auto it = methods().find(request.method);
  if (it == methods().end()) return std::nullopt;
  auto out = call(state, grid, it->second, request.params);
  if (out.klass.empty()) return rpc::Response{request.id, nullptr, out.result};
  state.log->info("request {} => {}: {}", request.method, out.klass, out.message);
  return rpc::Response{request.id, ruby_error(out.message, out.klass), nullptr};
}

bool handle_service_notification(SimState& state, const std::string& grid, const rpc::Notification& note) {
  auto it = methods().find(note.method);
  if (it == methods().end()) return false;
  auto out = call(state, grid, it->second, note.params);
  if (!out.klass.empty()) state.log->info("notify {} => {}: {}", note.method, out.klass, out.message);
  return true;
}

}  // namespace kn::master_sim

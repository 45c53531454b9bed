#include "volumes.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <random>
#include <regex>
#include <set>

namespace kn::master_sim {
namespace {

namespace http = boost::beast::http;

std::string fresh_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  char out[32];
  std::snprintf(out, sizeof out, "%08x%016llx", static_cast<unsigned>(std::time(nullptr)),
                static_cast<unsigned long long>(rng()));
  return std::string(out, 24);
}

Json volume_json(const NodeRegistry& registry, const VolumeStore& store, const Volume& v) {
  Json instances = Json::array();
  for (const auto* i : store.instances_of(v.id)) {
    const Node* n = registry.find(i->node);
    instances.push_back({{"name", i->name}, {"node", n != nullptr ? Json(n->name) : Json(nullptr)}});
  }
  return {{"id", v.grid + "/" + v.name}, {"name", v.name},           {"scope", v.scope},
          {"driver", v.driver},          {"driver_opts", v.driver_opts}, {"created_at", format_ruby_time(v.created_at)},
          {"instances", instances}};
}

// RpcServer's error shape for a Ruby exception in a handler.
rpc::Response raised(std::uint32_t id, const std::string& message, const std::string& klass = "RuntimeError") {
  return rpc::Response{id, Json{{"code", 500}, {"message", klass + ": " + message}}, nullptr};
}

}  // namespace

// ---- VolumeStore -------------------------------------------------------------------

Volume* VolumeStore::find(const std::string& grid, const std::string& name) {
  for (auto& [id, v] : volumes_) {
    if (v->grid == grid && v->name == name) return v.get();
  }
  return nullptr;
}

Volume* VolumeStore::find_id(const std::string& id) {
  auto it = volumes_.find(id);
  return it == volumes_.end() ? nullptr : it->second.get();
}

std::vector<Volume*> VolumeStore::of_grid(const std::string& grid) {
  std::vector<Volume*> out;
  for (auto& [id, v] : volumes_) {
    if (v->grid == grid) out.push_back(v.get());
  }
  std::sort(out.begin(), out.end(), [](const Volume* a, const Volume* b) { return a->name < b->name; });
  return out;
}

Volume* VolumeStore::add(Volume volume) {
  volume.id = fresh_id();
  while (volumes_.count(volume.id) != 0) volume.id = fresh_id();
  auto& slot = volumes_[volume.id];
  slot = std::make_unique<Volume>(std::move(volume));
  return slot.get();
}

std::vector<NodeKey> VolumeStore::remove(const std::string& volume_id) {
  std::vector<NodeKey> nodes;
  for (const auto& i : instances_) {
    if (i.volume_id == volume_id && std::find(nodes.begin(), nodes.end(), i.node) == nodes.end()) {
      nodes.push_back(i.node);
    }
  }
  std::erase_if(instances_, [&](const VolumeInstance& i) { return i.volume_id == volume_id; });
  volumes_.erase(volume_id);
  return nodes;
}

std::vector<const VolumeInstance*> VolumeStore::instances_on(NodeKey node) const {
  std::vector<const VolumeInstance*> out;
  for (const auto& i : instances_) {
    if (i.node == node) out.push_back(&i);
  }
  return out;
}

std::vector<const VolumeInstance*> VolumeStore::instances_of(const std::string& volume_id) const {
  std::vector<const VolumeInstance*> out;
  for (const auto& i : instances_) {
    if (i.volume_id == volume_id) out.push_back(&i);
  }
  return out;
}

const VolumeInstance* VolumeStore::instance(NodeKey node, const std::string& name) const {
  for (const auto& i : instances_) {
    if (i.node == node && i.name == name) return &i;
  }
  return nullptr;
}

const VolumeInstance* VolumeStore::instance_id(NodeKey node, const std::string& id) const {
  for (const auto& i : instances_) {
    if (i.node == node && i.id == id) return &i;
  }
  return nullptr;
}

const VolumeInstance& VolumeStore::add_instance(NodeKey node, const std::string& volume_id, const std::string& name) {
  instances_.push_back(VolumeInstance{fresh_id(), node, volume_id, name});
  return instances_.back();
}

// ---- services and pods ---------------------------------------------------------------

std::vector<std::string> volume_refs(const Service& service) {
  std::vector<std::string> out;
  for (const auto& v : service.spec.value("volumes", Json::array())) {
    std::string name;
    if (v.is_string()) {
      const auto text = v.get<std::string>();
      const auto colon = text.find(':');
      if (colon != std::string::npos && !text.starts_with("/")) name = text.substr(0, colon);
    } else if (v.is_object() && v.contains("name") && v["name"].is_string()) {
      name = v["name"].get<std::string>();
    }
    if (!name.empty()) out.push_back(name);
  }
  return out;
}

std::string volume_instance_name(const Volume& volume, const Service& service, int instance_number) {
  if (volume.scope == "instance") {
    return service.name_with_stack() + "." + volume.name + "-" + std::to_string(instance_number);
  }
  if (volume.scope == "stack") return service.stack + "." + volume.name;
  return volume.name;
}

void resolve_pod_volumes(VolumeStore& store, const Service& service, int instance_number, Json& pod_volumes) {
  for (auto& entry : pod_volumes) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) continue;
    const Volume* v = store.find(service.grid, entry["name"].get<std::string>());
    if (v == nullptr) continue;
    entry["name"] = volume_instance_name(*v, service, instance_number);
    entry["driver"] = v->driver;
    entry["driver_opts"] = v->driver_opts;
  }
}

boost::asio::awaitable<std::string> ensure_volume_instances(SimState& st, std::string service_id, int instance_number,
                                                            NodeKey node) {
  Service* s = st.services.find(service_id);
  if (s == nullptr) co_return std::string();
  std::vector<std::pair<std::string, std::string>> wanted;  // volume id, instance name
  for (const auto& ref : volume_refs(*s)) {
    if (const Volume* v = st.services.volumes().find(s->grid, ref)) {
      wanted.emplace_back(v->id, volume_instance_name(*v, *s, instance_number));
    }
  }
  for (const auto& [volume_id, name] : wanted) {
    if (st.services.volumes().instance(node, name) != nullptr) continue;
    st.services.volumes().add_instance(node, volume_id, name);
    st.log->info("volume instance created name={} node={}", name, node);
    // VolumeInstanceDeployer: RpcClient.new(node_id, 2).request('/volumes/notify_update', []).
    auto sessions = st.sessions_of(node, true);
    std::optional<rpc::Response> response;
    if (!sessions.empty()) {
      auto session = sessions.front()->shared_from_this();
      Json params = Json::array();
      params.push_back(Json::array());
      response = co_await session->request("/volumes/notify_update", std::move(params), std::chrono::seconds(2));
    } else {
      boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, std::chrono::seconds(2));
      co_await t.async_wait(boost::asio::use_awaitable);
    }
    if (!response) co_return std::string("RpcClient::TimeoutError: Connection timeout (2.0s)");
    if (!response->error.is_null()) {
      const Json& e = response->error;
      co_return "RpcClient::Error: " + (e.is_object() && e.contains("message") && e["message"].is_string()
                                            ? e["message"].get<std::string>()
                                            : std::string("RpcClient::Error"));
    }
  }
  co_return std::string();
}

// ---- agent RPC -----------------------------------------------------------------------

std::optional<rpc::Response> handle_volume_request(SimState& st, const std::string& grid, const rpc::Request& req) {
  const bool list = req.method == "/node_volumes/list";
  if (!list && req.method != "/node_volumes/set_state") return std::nullopt;
  const Json p = req.params.is_array() ? req.params : Json::array({req.params});
  const std::size_t arity = list ? 1 : 2;
  if (p.size() != arity) {
    return raised(req.id,
                  "wrong number of arguments (given " + std::to_string(p.size()) + ", expected " +
                      std::to_string(arity) + ")",
                  "ArgumentError");
  }
  Node* node = p[0].is_string() ? st.registry.find_by_node_id(grid, p[0].get<std::string>()) : nullptr;
  if (node == nullptr) return raised(req.id, "Node not found");
  auto& store = st.services.volumes();
  if (list) {
    // VolumeSerializer: {volume_id, volume_instance_id, name, driver, driver_opts}.
    Json volumes = Json::array();
    for (const auto* i : store.instances_on(node->key)) {
      const Volume* v = store.find_id(i->volume_id);
      if (v == nullptr) continue;
      volumes.push_back({{"volume_id", v->id},
                         {"volume_instance_id", i->id},
                         {"name", i->name},
                         {"driver", v->driver},
                         {"driver_opts", v->driver_opts}});
    }
    return rpc::Response{req.id, nullptr, Json{{"volumes", volumes}}};
  }
  const Json& data = p[1];
  if (!data.is_object()) return raised(req.id, "undefined method `[]' for " + data.dump(), "NoMethodError");
  const std::string instance_id = data.value("volume_instance_id", Json(nullptr)).is_string()
                                      ? data["volume_instance_id"].get<std::string>()
                                      : std::string();
  if (store.instance_id(node->key, instance_id) == nullptr && data.contains("volume_id") &&
      !data["volume_id"].is_null()) {
    const std::string volume_id =
        data["volume_id"].is_string() ? data["volume_id"].get<std::string>() : data["volume_id"].dump();
    const Volume* v = store.find_id(volume_id);
    if (v == nullptr || v->grid != grid) return raised(req.id, "Could not find volume with id: " + volume_id);
    store.add_instance(node->key, volume_id, data.value("name", Json("")).is_string() ? data.value("name", "") : "");
  }
  st.log->info("volume set_state node={} name={}", node->name, data.value("name", Json("")).dump());
  return rpc::Response{req.id, nullptr, Json::object()};
}

// ---- REST ----------------------------------------------------------------------------

std::optional<RestResult> handle_volume_rest(SimState& st, http::verb method, const std::vector<std::string>& parts,
                                             const Json& body) {
  if (parts.size() < 3 || parts.size() > 4 || parts[0] != "v1" || parts[1] != "volumes") return std::nullopt;
  const std::string& grid = parts[2];
  if (st.registry.grid(grid) == nullptr) return RestResult{404, Json{{"error", "Grid not found"}}};
  auto& store = st.services.volumes();
  auto invalid = [](const std::string& field, const std::string& message) {
    return RestResult{422, Json{{"error", {{field, message}}}}};
  };
  if (parts.size() == 3 && method == http::verb::get) {
    Json out = Json::array();
    for (const Volume* v : store.of_grid(grid)) out.push_back(volume_json(st.registry, store, *v));
    return RestResult{200, Json{{"volumes", out}}};
  }
  if (parts.size() == 3 && method == http::verb::post) {
    // Volumes::Create's filters.
    if (!body.is_object()) return invalid("body", "must be a JSON object");
    static const std::regex name_rule(R"(^(?!-)[A-Za-z0-9_-]+$)");
    const std::string name = body.value("name", Json(nullptr)).is_string() ? body["name"].get<std::string>() : "";
    const std::string scope = body.value("scope", Json(nullptr)).is_string() ? body["scope"].get<std::string>() : "";
    const std::string driver = body.value("driver", Json(nullptr)).is_string() ? body["driver"].get<std::string>() : "";
    if (!std::regex_match(name, name_rule)) return invalid("name", "Name isn't in the right format");
    if (scope != "instance" && scope != "stack" && scope != "grid") return invalid("scope", "Scope isn't an option");
    if (driver.empty()) return invalid("driver", "Driver is required");
    if (body.contains("driver_opts") && !body["driver_opts"].is_null() && !body["driver_opts"].is_object()) {
      return invalid("driver_opts", "Driver opts isn't a hash");
    }
    if (store.find(grid, name) != nullptr) return invalid("name", "Volume with given name already exists");
    Volume v;
    v.grid = grid;
    v.name = name;
    v.scope = scope;
    v.driver = driver;
    if (body.contains("driver_opts") && body["driver_opts"].is_object()) v.driver_opts = body["driver_opts"];
    v.created_at = now();
    const Volume* made = store.add(std::move(v));
    st.log->info("volume created {}/{} scope={} driver={}", grid, name, scope, driver);
    return RestResult{201, volume_json(st.registry, store, *made)};
  }
  if (parts.size() != 4) return RestResult{404, Json{{"error", "Not found"}}};
  Volume* v = store.find(grid, parts[3]);
  if (v == nullptr) return RestResult{404, Json{{"error", "Volume not found"}}};
  if (method == http::verb::get) return RestResult{200, volume_json(st.registry, store, *v)};
  if (method != http::verb::delete_) return RestResult{404, Json{{"error", "Not found"}}};
  // Volumes::Delete: refused while a service mounts it; then its instances go and their
  // connected nodes get the notification ["remove"].
  std::vector<std::string> users;
  for (Service* s : st.services.of_grid(grid)) {
    const auto refs = volume_refs(*s);
    if (std::find(refs.begin(), refs.end(), v->name) != refs.end()) users.push_back("\"" + s->to_path() + "\"");
  }
  if (!users.empty()) {
    std::string list;
    for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
    return invalid(v->name, "Volume still in use in services [" + list + "]");
  }
  const std::string name = v->name;
  for (NodeKey node : store.remove(v->id)) {
    for (Session* s : st.sessions_of(node, true)) {
      s->send(rpc::Notification{"/volumes/notify_update", Json::array({"remove"})});
    }
  }
  st.log->info("volume removed {}/{}", grid, name);
  return RestResult{200, Json::object()};
}

}  // namespace kn::master_sim

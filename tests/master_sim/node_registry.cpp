#include "node_registry.hpp"

#include <algorithm>
#include <set>

namespace kn::master_sim {
namespace {

Json time_or_null(const std::optional<SysTime>& t) { return t ? Json(format_kontena_time(*t)) : Json(nullptr); }

// HostNode#attributes_from_docker: info key -> stored field.
constexpr std::pair<const char*, const char*> kDockerFields[] = {
    {"OperatingSystem", "os"},       {"DockerRootDir", "docker_root_dir"}, {"Driver", "driver"},
    {"ExecutionDriver", "execution_driver"}, {"IPv4Forwarding", "ipv4_forwarding"},
    {"KernelVersion", "kernel_version"}, {"MemTotal", "mem_total"},   {"MemoryLimit", "mem_limit"},
    {"NCPU", "cpus"},                {"SwapLimit", "swap_limit"},       {"PublicIp", "public_ip"},
    {"PrivateIp", "private_ip"},     {"AgentVersion", "agent_version"}, {"ServerVersion", "docker_version"},
};

}  // namespace

std::string label_name(const std::string& label) { return label.substr(0, label.find('=')); }

std::string Node::status() const {
  if (!node_id) return "created";
  if (!connected) return "offline";
  if (!updated) return "connecting";
  if (availability == "drain") return "drain";
  return "online";
}

void NodeRegistry::add_grid(Grid grid) {
  auto name = grid.name;
  grids_[name] = std::move(grid);
}

const Grid* NodeRegistry::grid(const std::string& name) const {
  auto it = grids_.find(name);
  return it == grids_.end() ? nullptr : &it->second;
}

const Grid* NodeRegistry::grid_by_token(const std::string& token) const {
  if (token.empty()) return nullptr;
  for (const auto& [name, g] : grids_) {
    if (g.token == token) return &g;
  }
  return nullptr;
}

Node* NodeRegistry::find(NodeKey key) {
  auto it = nodes_.find(key);
  return it == nodes_.end() ? nullptr : &it->second;
}

const Node* NodeRegistry::find(NodeKey key) const {
  auto it = nodes_.find(key);
  return it == nodes_.end() ? nullptr : &it->second;
}

Node* NodeRegistry::find_by_node_id(const std::string& grid, const std::string& node_id) {
  for (auto& [key, n] : nodes_) {
    if (n.grid == grid && n.node_id && *n.node_id == node_id) return &n;
  }
  return nullptr;
}

Node* NodeRegistry::find_by_node_id_anywhere(const std::string& node_id) {
  for (auto& [key, n] : nodes_) {
    if (n.node_id && *n.node_id == node_id) return &n;
  }
  return nullptr;
}

Node* NodeRegistry::find_by_name(const std::string& grid, const std::string& name) {
  for (auto& [key, n] : nodes_) {
    if (n.grid == grid && n.name == name) return &n;
  }
  return nullptr;
}

Node* NodeRegistry::find_by_ref(const std::string& grid, const std::string& ref) {
  return ref.find(':') != std::string::npos ? find_by_node_id(grid, ref) : find_by_name(grid, ref);
}

Node* NodeRegistry::find_by_token(const std::string& token) {
  if (token.empty()) return nullptr;
  for (auto& [key, n] : nodes_) {
    if (n.token && *n.token == token) return &n;
  }
  return nullptr;
}

std::vector<const Node*> NodeRegistry::nodes_of(const std::string& grid) const {
  std::vector<const Node*> out;
  for (const auto& [key, n] : nodes_) {
    if (n.grid == grid) out.push_back(&n);
  }
  std::sort(out.begin(), out.end(), [](const Node* a, const Node* b) { return a->node_number < b->node_number; });
  return out;
}

std::vector<Node*> NodeRegistry::nodes_of(const std::string& grid) {
  std::vector<Node*> out;
  for (auto& [key, n] : nodes_) {
    if (n.grid == grid) out.push_back(&n);
  }
  std::sort(out.begin(), out.end(), [](const Node* a, const Node* b) { return a->node_number < b->node_number; });
  return out;
}

Node* NodeRegistry::create(const std::string& grid, const std::string& name, std::optional<std::string> node_id,
                           std::vector<std::string> labels, std::optional<std::string> token, SysTime now) {
  std::set<int> used;
  bool name_taken = false;
  for (const auto& [key, n] : nodes_) {
    if (n.grid != grid) continue;
    used.insert(n.node_number);
    if (n.name == name) name_taken = true;
  }
  int number = 0;
  for (int i = 1; i <= 254; ++i) {
    if (used.count(i) == 0) {
      number = i;
      break;
    }
  }
  if (number == 0) return nullptr;
  Node n;
  n.key = next_key_++;
  n.grid = grid;
  n.name = name_taken ? name + "-" + std::to_string(number) : name;
  n.node_id = std::move(node_id);
  n.labels = std::move(labels);
  n.token = std::move(token);
  n.node_number = number;
  n.created_at = now;
  n.updated_at = now;
  auto key = n.key;
  return &(nodes_[key] = std::move(n));
}

bool NodeRegistry::remove(NodeKey key) { return nodes_.erase(key) > 0; }

bool NodeRegistry::plug(NodeKey key, SysTime connected_at, SysTime now) {
  Node* n = find(key);
  if (n == nullptr) return false;
  if (n->connected_at && *n->connected_at >= connected_at) return false;  // "already re-connected"
  n->connected = true;
  n->updated = false;
  n->last_seen_at = now;
  n->connected_at = connected_at;
  n->updated_at = now;
  return true;
}

bool NodeRegistry::unplug(NodeKey key, SysTime connected_at, int code, const std::string& reason, SysTime now) {
  Node* n = find(key);
  if (n == nullptr || !n->connected_at || *n->connected_at != connected_at) return false;
  n->connected = false;
  n->updated = false;
  n->disconnected_at = now;
  n->close_code = code;
  n->close_reason = reason;
  n->updated_at = now;
  return true;
}

std::vector<NodeKey> NodeRegistry::mark_stale(SysTime now, std::chrono::milliseconds stale_after) {
  std::vector<NodeKey> out;
  for (auto& [key, n] : nodes_) {
    if (n.connected && n.last_seen_at && *n.last_seen_at < now - stale_after) {
      n.connected = false;
      n.updated_at = now;
      out.push_back(key);
    }
  }
  return out;
}

std::vector<std::string> NodeRegistry::destroy_expired(SysTime now, std::chrono::milliseconds after) {
  std::vector<std::string> out;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    const Node& n = it->second;
    const Grid* g = grid(n.grid);
    const int initial = g != nullptr ? g->initial_size : 1;
    const bool ephemeral = std::any_of(n.labels.begin(), n.labels.end(),
                                       [](const std::string& l) { return label_name(l) == "ephemeral"; });
    // Nodes never seen have no last_seen_at and are kept, as the Mongo query `lt` skips nil.
    if (!n.connected && ephemeral && n.node_number > initial && n.last_seen_at && *n.last_seen_at < now - after) {
      out.push_back(n.grid + "/" + n.name);
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void NodeRegistry::apply_update(Node& node, const Json& info, SysTime now) {
  for (const auto& [from, to] : kDockerFields) {
    if (info.contains(from)) node.attributes[to] = info[from];
  }
  if (info.contains("Drivers") && info["Drivers"].is_object()) {
    const Json& drivers = info["Drivers"];
    if (drivers.contains("Volume")) node.attributes["volume_drivers"] = drivers["Volume"];
    if (drivers.contains("Network")) node.attributes["network_drivers"] = drivers["Network"];
  }
  if (info.contains("AgentVersion") && info["AgentVersion"].is_string()) {
    node.agent_version = info["AgentVersion"].get<std::string>();
  }
  if (node.labels.empty() && info.contains("Labels") && info["Labels"].is_array()) {
    for (const auto& l : info["Labels"]) {
      if (l.is_string()) node.labels.push_back(l.get<std::string>());
    }
  }
  node.info = info;
  node.updated = true;
  node.updates_count++;
  node.updated_at = now;
}

Json NodeRegistry::to_json(const Node& n) const {
  Json j = {
      {"id", n.grid + "/" + n.name},
      {"node_id", n.node_id ? Json(*n.node_id) : Json(nullptr)},
      {"name", n.name},
      {"grid", n.grid},
      {"connected", n.connected},
      {"status", n.status()},
      {"labels", n.labels},
      {"agent_version", n.agent_version},
      {"node_number", n.node_number},
      {"availability", n.availability},
      {"has_token", n.token.has_value()},
      {"created_at", format_kontena_time(n.created_at)},
      {"updated_at", format_kontena_time(n.updated_at)},
      {"connected_at", time_or_null(n.connected_at)},
      {"last_seen_at", time_or_null(n.last_seen_at)},
      {"disconnected_at", time_or_null(n.disconnected_at)},
      {"close_code", n.close_code ? Json(*n.close_code) : Json(nullptr)},
      {"close_reason", n.close_code ? Json(n.close_reason) : Json(nullptr)},
      {"updated", n.updated},
      {"info", n.info},
      {"stats", n.last_stats},
      {"stats_count", n.stats_count},
      {"updates_count", n.updates_count},
      {"handshake_headers", n.handshake_headers},
  };
  for (const auto& [k, v] : n.attributes.items()) {
    if (!j.contains(k)) j[k] = v;
  }
  return j;
}

Json NodeRegistry::node_info(const Node& n) const {
  const Grid* g = grid(n.grid);
  Json peers = Json::array();
  for (const auto& [key, other] : nodes_) {
    if (other.grid == n.grid && other.key != n.key && other.attributes.contains("private_ip")) {
      peers.push_back(other.attributes["private_ip"]);
    }
  }
  const int initial = g != nullptr ? g->initial_size : 1;
  return {
      {"id", n.node_id ? Json(*n.node_id) : Json(nullptr)},
      // HostNodeSerializer: Time#to_s of the UTC time, "2018-08-10 12:34:56 UTC".
      {"created_at", format_ruby_time(n.created_at)},
      {"updated_at", format_ruby_time(n.updated_at)},
      {"name", n.name},
      {"labels", n.labels},
      {"overlay_ip", "10.81.0." + std::to_string(n.node_number)},
      {"peer_ips", peers},
      {"node_number", n.node_number},
      {"initial_member", n.node_number <= initial},
      {"grid",
       {{"id", n.grid},
        {"name", n.grid},
        {"initial_size", initial},
        {"trusted_subnets", Json::array()},
        {"subnet", g != nullptr ? g->subnet : "10.81.0.0/16"},
        {"supernet", g != nullptr ? g->supernet : "10.80.0.0/12"},
        {"stats", {{"statsd", nullptr}}},
        {"logs", nullptr}}},
  };
}

}  // namespace kn::master_sim

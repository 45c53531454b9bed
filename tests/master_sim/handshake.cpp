#include "handshake.hpp"

#include "version_rule.hpp"

#include <cctype>
#include <cstdio>
#include <set>

namespace kn::master_sim {
namespace {

constexpr const char* kNodeId = "Kontena-Node-Id";
constexpr const char* kNodeName = "Kontena-Node-Name";
constexpr const char* kVersion = "Kontena-Version";
constexpr const char* kLabels = "Kontena-Node-Labels";
constexpr const char* kConnectedAt = "Kontena-Connected-At";
constexpr const char* kGridToken = "Kontena-Grid-Token";
constexpr const char* kNodeToken = "Kontena-Node-Token";

std::optional<std::string> header(const HeaderMap& h, const char* name) {
  auto it = h.find(name);
  if (it == h.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// The master splits the header on ','.
std::vector<std::string> split_labels(const std::optional<std::string>& text) {
  std::vector<std::string> out;
  if (!text) return out;
  std::size_t start = 0;
  while (start <= text->size()) {
    const auto comma = text->find(',', start);
    const auto end = comma == std::string::npos ? text->size() : comma;
    if (end > start) out.push_back(text->substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

Verdict reject(int code, std::string reason) {
  Verdict v;
  v.kind = Verdict::Kind::reject;
  v.code = code;
  v.reason = std::move(reason);
  return v;
}

}  // namespace

std::string canonical_kontena_header(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("kontena-", 0) != 0) return {};
  std::string out;
  bool upper = true;
  for (char c : lower) {
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = c == '-';
  }
  return out;
}

Json reportable_headers(const HeaderMap& headers) {
  Json out = Json::object();
  for (const auto& [name, value] : headers) {
    out[name] = (name == kGridToken || name == kNodeToken) ? Json("<present>") : Json(value);
  }
  return out;
}

Verdict check_handshake(NodeRegistry& registry, const HeaderMap& headers, SysTime now, const HandshakeConfig& config) {
  const std::string version = header(headers, kVersion).value_or("");
  switch (check_agent_version(config.master_version, version)) {
    case AgentVersion::compatible:
      break;
    case AgentVersion::incompatible: {
      Verdict v = reject(close_code::version, "agent version " + version + " is not compatible with server version " +
                                                  config.master_version);
      v.master_info_first = true;
      return v;
    }
    case AgentVersion::malformed: {
      // Gem::Version raises inside valid_agent_version?; on_open's generic rescue only logs
      // it: no master_info, no close, no node.
      Verdict v;
      v.kind = Verdict::Kind::unregistered;
      v.reason = "Malformed version number string " + version;
      return v;
    }
  }
  const auto node_id = header(headers, kNodeId);
  if (!node_id) return reject(close_code::missing_id, "Missing Kontena-Node-ID");
  const auto node_name = header(headers, kNodeName);
  if (!node_name) return reject(close_code::missing_id, "Missing Kontena-Node-Name");
  const auto labels = split_labels(header(headers, kLabels));
  const auto node_token = header(headers, kNodeToken);
  const auto grid_token = header(headers, kGridToken);

  // websocket_backend.rb#find_node: the grid token wins when both headers are sent.
  Node* node = nullptr;
  if (grid_token) {
    const Grid* grid = registry.grid_by_token(*grid_token);
    if (grid == nullptr) return reject(close_code::invalid_grid_token, "Invalid grid token");
    node = registry.find_by_node_id(grid->name, *node_id);
    if (node != nullptr && node->token) {
      return reject(close_code::grid_token_for_token_node, "Invalid grid token, node was created using a node token");
    }
    if (node == nullptr) {
      node = registry.create(grid->name, *node_name, *node_id, labels, std::nullopt, now);
      if (node == nullptr) {
        // Grid#create_node! raises a plain RuntimeError, which on_open only logs.
        Verdict v;
        v.kind = Verdict::Kind::unregistered;
        v.reason = "Node numbers not available. Grid is full?";
        return v;
      }
    }
  } else if (node_token) {
    node = registry.find_by_token(*node_token);
    if (node == nullptr) return reject(close_code::invalid_node_token, "Invalid node token");
    // find_node_by_node_token looks the node id up in every grid.
    const Node* by_id = registry.find_by_node_id_anywhere(*node_id);
    if (by_id == nullptr) {
      if (node->node_id) return reject(close_code::node_token_used, "Invalid node token, already used by a different node");
      // First claim: the header labels are added to the node's.
      node->node_id = *node_id;
      std::set<std::string> have(node->labels.begin(), node->labels.end());
      for (const auto& l : labels) {
        if (have.insert(l).second) node->labels.push_back(l);
      }
    } else if (by_id->key != node->key) {
      return reject(close_code::node_id_taken, "Invalid node ID, already used by a different node");
    }
  } else {
    return reject(close_code::missing_token, "Missing token");
  }

  node->agent_version = version;
  node->handshake_headers = reportable_headers(headers);

  Verdict v;
  v.node = node->key;
  v.grid = node->grid;
  const auto connected_at_text = header(headers, kConnectedAt);
  const auto connected_at = connected_at_text ? parse_kontena_time(*connected_at_text) : std::nullopt;
  if (!connected_at) {
    v.kind = Verdict::Kind::unregistered;
    v.reason = connected_at_text ? "unparsable Kontena-Connected-At" : "missing Kontena-Connected-At";
    return v;
  }
  v.connected_at = connected_at;
  const auto offset = now - *connected_at;
  if (offset > config.skew_past || offset < -config.skew_future) {
    char reason[120];
    std::snprintf(reason, sizeof reason, "agent connected too far in the %s, clock offset %.2fs exceeds threshold",
                  offset > config.skew_past ? "past" : "future",
                  std::chrono::duration<double>(offset).count());
    v.kind = Verdict::Kind::reject;
    v.code = close_code::clock_offset;
    v.reason = reason;
    // NodePlugger#reject!: the rejection is recorded on the node.
    node->close_code = v.code;
    node->close_reason = v.reason;
    node->updated_at = now;
    return v;
  }
  v.kind = Verdict::Kind::accept;
  return v;
}

}  // namespace kn::master_sim

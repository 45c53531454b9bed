// The simulator's database: grids and host nodes with the fields and rules of the Kontena
// master's Grid and HostNode models (docs/protocol.md sections 4 and 5).
// Pure state, no I/O: the handshake, the RPC session and the REST API all change it
// through these functions, on the one io_context thread.
#pragma once

#include "kontena_time.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kn::master_sim {

using Json = nlohmann::json;
using NodeKey = std::uint64_t;  // the record's identity; names and node ids can change

struct Grid {
  std::string name;
  std::string token;
  int initial_size = 1;  // nodes 1..initial_size are "initial" and never cleaned up
  std::string subnet = "10.81.0.0/16";
  std::string supernet = "10.80.0.0/12";
};

struct Node {
  NodeKey key = 0;
  std::string grid;
  std::string name;
  std::optional<std::string> node_id;  // nil until an agent connects (node-token nodes)
  std::optional<std::string> token;    // set for nodes created for the node-token path
  std::vector<std::string> labels;
  std::string agent_version;
  int node_number = 0;
  std::string availability = "active";
  bool connected = false;
  bool updated = false;
  SysTime created_at{};
  SysTime updated_at{};
  std::optional<SysTime> connected_at;  // the agent's Kontena-Connected-At of the plugged connection
  std::optional<SysTime> last_seen_at;
  std::optional<SysTime> disconnected_at;
  std::optional<int> close_code;
  std::string close_reason;
  Json info = nullptr;          // the last /nodes/update info, whole
  Json attributes = Json::object();  // the fields the master keeps from it (os, kernel_version, ...)
  Json last_stats = nullptr;
  std::uint64_t stats_count = 0;
  std::uint64_t updates_count = 0;
  Json handshake_headers = Json::object();

  // created | offline | connecting | drain | online
  std::string status() const;
};

class NodeRegistry {
 public:
  void add_grid(Grid grid);
  const Grid* grid(const std::string& name) const;
  const Grid* grid_by_token(const std::string& token) const;
  const std::map<std::string, Grid>& grids() const { return grids_; }

  Node* find(NodeKey key);
  const Node* find(NodeKey key) const;
  Node* find_by_node_id(const std::string& grid, const std::string& node_id);
  // HostNode.find_by(node_id:) without a grid: the node-token path looks in every grid.
  Node* find_by_node_id_anywhere(const std::string& node_id);
  Node* find_by_name(const std::string& grid, const std::string& name);
  // By name, or by node_id when `ref` contains ':' (the REST rule).
  Node* find_by_ref(const std::string& grid, const std::string& ref);
  Node* find_by_token(const std::string& token);
  std::vector<const Node*> nodes_of(const std::string& grid) const;
  std::vector<Node*> nodes_of(const std::string& grid);

  // Creates a node with the lowest free node_number in 1..254 (nullptr when all are used).
  // A taken name gets "-<node_number>" appended, as Grid#create_node! does.
  Node* create(const std::string& grid, const std::string& name, std::optional<std::string> node_id,
               std::vector<std::string> labels, std::optional<std::string> token, SysTime now);
  bool remove(NodeKey key);

  // NodePlugger#plugin!: only a connection newer than the plugged one wins.
  bool plug(NodeKey key, SysTime connected_at, SysTime now);
  // NodeUnplugger#unplug!: only while `connected_at` is still the node's connection.
  bool unplug(NodeKey key, SysTime connected_at, int code, const std::string& reason, SysTime now);

  // NodeCleanupJob: connected nodes not seen for `stale_after` become not connected.
  std::vector<NodeKey> mark_stale(SysTime now, std::chrono::milliseconds stale_after);
  // NodeCleanupJob: destroys nodes last seen longer than `after` ago that are not initial,
  // not connected and carry a label named "ephemeral" (any value). Returns their names.
  std::vector<std::string> destroy_expired(SysTime now, std::chrono::milliseconds after);

  // /nodes/update: stores the fields the master keeps and the whole info; copies Labels
  // only when the node has none; marks it updated.
  void apply_update(Node& node, const Json& info, SysTime now);

  // REST JSON (tests/support/master_sim.hpp documents the fields).
  Json to_json(const Node& node) const;
  // The map sent in /agent/node_info (id = node_id).
  Json node_info(const Node& node) const;

  std::size_t size() const { return nodes_.size(); }

 private:
  std::map<std::string, Grid> grids_;
  std::map<NodeKey, Node> nodes_;
  NodeKey next_key_ = 1;
};

// "key=value" -> "key"; labels match on the part before the first '='.
std::string label_name(const std::string& label);

}  // namespace kn::master_sim

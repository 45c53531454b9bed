// The node id the agent sends as Kontena-Node-Id. The master keys the node record on it, so it
// must not change between starts of one host: with a grid token a new id is a second node,
// with a node token a claimed token closes 4003 for ever (docs/protocol.md "Master side").
// Once chosen it is kept in a state file and read back on every start.
#pragma once

#include "core/error.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kn::node {

// kontena v1.5.4: agent/lib/kontena/agent.rb checks KONTENA_NODE_ID against 12 groups of 4
// [A-Z0-9] joined by ':' (the shape of Docker's engine ID before Docker 23).
bool is_kontena_node_id(std::string_view id);

struct NodeIdSources {
  std::optional<std::string> pinned;     // KONTENA_NODE_ID; validated, wins, and is not stored
  std::optional<std::string> docker_id;  // GET /info ID when Docker answered, as Kontena's agent uses it
  std::string host_derived;              // from /etc/machine-id: when Docker is down at the first start
  std::filesystem::path state_file;      // e.g. /var/lib/kontena/node-id
};

struct NodeId {
  std::string id;
  std::string origin;  // "KONTENA_NODE_ID", the state file, "Docker info ID", "derived from the host"
};

// Pinned id, else the stored one, else Docker's ID, else the host-derived one; a new choice is
// written to the state file atomically. Errc::config_invalid for a pinned id of the wrong shape
// or a state file that holds something else than one id; Errc::file_io when the choice cannot
// be stored (the next start would pick another id).
Result<NodeId> choose_node_id(const NodeIdSources& sources);

}  // namespace kn::node

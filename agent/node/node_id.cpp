#include "node/node_id.hpp"

#include "core/atomic_file.hpp"

#include <regex>

namespace kn::node {

bool is_kontena_node_id(std::string_view id) {
  static const std::regex pattern("[A-Z0-9]{4}(:[A-Z0-9]{4}){11}");
  return std::regex_match(id.begin(), id.end(), pattern);
}

Result<NodeId> choose_node_id(const NodeIdSources& sources) {
  if (sources.pinned) {
    if (!is_kontena_node_id(*sources.pinned)) {
      return fail(Errc::config_invalid,
                  "invalid value for node-id (KONTENA_NODE_ID): \"" + *sources.pinned +
                      "\" is not a Kontena node id; use 12 groups of 4 characters A-Z or 0-9 joined by ':' "
                      "(e.g. 44C7:P5OM:2FNW:L3GH:SYZY:5JD5:HQTB:UW2T:SRVQ:IKKW:FQ4W:5RC7), or unset it");
    }
    return NodeId{*sources.pinned, "KONTENA_NODE_ID"};
  }
  const auto& path = sources.state_file;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    // One id on one line: the rules of the one-line token files.
    auto stored = read_token_file(path);
    if (!stored) {
      return std::move(stored).error().context("failed to read the node id file " + path.string() +
                                               " (remove it to choose a new id; the master then sees a new node)");
    }
    return NodeId{std::move(*stored), path.string()};
  }
  NodeId chosen = sources.docker_id ? NodeId{*sources.docker_id, "Docker info ID"}
                                    : NodeId{sources.host_derived, "derived from the host"};
  if (auto st = write_file_atomically(path, chosen.id + "\n", FileOwnership{.mode = 0644}); !st) {
    return std::move(st).error().context("failed to store the node id in " + path.string() +
                                         " (set KONTENA_STATE_DIR to a directory the agent can write)");
  }
  return chosen;
}

}  // namespace kn::node

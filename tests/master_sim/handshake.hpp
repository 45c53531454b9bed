// The master's checks of an agent's WebSocket upgrade, in the order of
// websocket_backend.rb#on_open (docs/protocol.md section 2 and 5):
// version (4010, after master_info; an unparsable one is only logged), id/name (4000),
// token (4004), grid token (4001/4005; a full grid is only logged) or else node token
// (4002/4003/4006), clock window (4020, recorded on the node), then acceptance. Node records are created or claimed here, as the master does before
// the clock check. Pure: no I/O.
#pragma once

#include "node_registry.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kn::master_sim {

namespace close_code {
inline constexpr int missing_id = 4000;
inline constexpr int invalid_grid_token = 4001;
inline constexpr int invalid_node_token = 4002;
inline constexpr int node_token_used = 4003;
inline constexpr int missing_token = 4004;
inline constexpr int grid_token_for_token_node = 4005;
inline constexpr int node_id_taken = 4006;
inline constexpr int version = 4010;
inline constexpr int clock_offset = 4020;
inline constexpr int ping_timeout = 4030;
inline constexpr int disconnected = 4031;
inline constexpr int removed = 4040;
inline constexpr int conflict = 4041;
}  // namespace close_code

struct HandshakeConfig {
  std::string master_version;
  std::chrono::milliseconds skew_past{6000};   // WEBSOCKET_TIMEOUT + KONTENA_CLOCK_SKEW
  std::chrono::milliseconds skew_future{1000};  // KONTENA_CLOCK_SKEW
};

// Kontena-* request headers by canonical name ("Kontena-Node-Id").
using HeaderMap = std::map<std::string, std::string>;

struct Verdict {
  enum class Kind {
    accept,
    reject,        // close with `code` and `reason`
    unregistered,  // the master only logs an error and leaves the socket open and silent:
                   // unparsable Kontena-Version or Kontena-Connected-At, grid full
  };
  Kind kind = Kind::reject;
  int code = 0;
  std::string reason;
  bool master_info_first = false;  // 4010: master_info goes out before the close
  std::optional<NodeKey> node;
  std::string grid;
  std::optional<SysTime> connected_at;
};

Verdict check_handshake(NodeRegistry& registry, const HeaderMap& headers, SysTime now, const HandshakeConfig& config);

// "kontena-node-id" -> "Kontena-Node-Id"; "" for a header that is not Kontena-*.
std::string canonical_kontena_header(std::string_view name);

// The headers as the REST API reports them: token values replaced by "<present>".
Json reportable_headers(const HeaderMap& headers);

}  // namespace kn::master_sim

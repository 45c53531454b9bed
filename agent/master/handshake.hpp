// What the agent sends when it dials the master: the WebSocket URL derived from the
// configured master URL, and the Kontena upgrade headers (docs/protocol.md
// section 2, "Path" and "Upgrade headers sent by the agent").
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kn::master {

struct MasterEndpoint {
  bool tls = false;          // wss
  std::string host;          // for DNS/connect; IPv6 without brackets
  std::string port;          // "80", "443" or the URL's
  std::string host_header;   // Host: value ("[::1]:9292", "master.example.com")
  std::string target = "/";  // the master upgrades only on "/"
  std::string url;           // ws(s)://host[:port]/ for logs and status (no userinfo, ever)
};

// http -> ws, https -> wss (ws and wss are taken as they are); the path must be empty or
// "/"; user info, queries and fragments are refused (a token in a URL ends up in logs).
// Errc::config_invalid with the fix.
Result<MasterEndpoint> parse_master_url(std::string_view url);

// "2018-08-10 12:34:56.123456789Z": UTC, space separator, 9-digit fraction, Z.
std::string format_connected_at(std::chrono::system_clock::time_point t);

enum class TokenKind { grid, node };

struct NodeIdentityHeaders {
  std::string node_id;
  std::string node_name;
  std::string version = "1.5.4";    // Kontena-Version
  std::vector<std::string> labels;  // "key=value"
  TokenKind token_kind = TokenKind::grid;
  std::string token;                // secret: goes only into the header built below
};

// The Kontena-* upgrade headers, in the order the Kontena agent sends them. The result holds
// the token: hand it to the WebSocket decorator only, never to a logger.
std::vector<std::pair<std::string, std::string>> upgrade_headers(const NodeIdentityHeaders& identity,
                                                                 std::chrono::system_clock::time_point now);

}  // namespace kn::master

// The typed settings of kontena-agent, built once in main from the option table's values;
// the commands read these fields, never a setting by key.
#pragma once

#include "core/settings.hpp"
#include "link/tls_client.hpp"
#include "master/handshake.hpp"
#include "master/session.hpp"
#include "node/options.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace kn::app {

// Where the master token may come from, in the order they win (the node token first, as in
// kontena v1.5.4: agent/lib/kontena/websocket_client.rb).
struct TokenSources {
  std::optional<std::string> node_token;  // secret
  std::string node_token_origin;
  std::optional<std::string> node_token_file;
  std::optional<std::string> grid_token;  // secret
  std::string grid_token_origin;
  std::optional<std::string> grid_token_file;
};

// Leaving the grid on a termination notice (README.md "Leaving cleanly").
struct LeaveOptions {
  std::optional<std::string> api_token;  // secret
  std::string api_token_origin;
  std::optional<std::string> api_token_file;
  std::optional<std::string> grid;       // default: the grid of the master's node info
  std::chrono::milliseconds spot_interval{};
  std::chrono::milliseconds asg_interval{};
};

struct AgentOptions {
  node::NodeOptions node;
  std::optional<std::string> url;      // as given; run and doctor parse it (master::parse_master_url)
  TokenSources token;
  master::TlsOptions tls;              // ssl-verify, ssl-cert-file, ssl-hostname
  master::SessionConfig session;       // the timers; run fills in node_id and url
  std::optional<std::string> node_id;    // pinned; default: Docker info ID
  std::optional<std::string> node_name;  // pinned; default: Docker info Name
  std::optional<std::string> public_ip;
  std::optional<std::string> private_ip;
  std::string protocol_version;          // validated: digits and dots
  std::filesystem::path state_dir;        // node-id file
  std::chrono::milliseconds label_check_interval{};
  LeaveOptions leave;
};

Result<AgentOptions> agent_options(const config::Settings& settings);

struct MasterToken {
  master::TokenKind kind = master::TokenKind::grid;
  std::string value;   // secret
  std::string origin;  // "KONTENA_TOKEN", "/path/file", ... for messages (never the value)
};

// The token for the upgrade header, first found of: node-token, node-token-file, token,
// token-file, $CREDENTIALS_DIRECTORY/kontena-token (systemd LoadCredential=).
// Errc::config_invalid when none is set or a file is unreadable or empty; messages name the
// source, never the value.
Result<MasterToken> resolve_token(const TokenSources& sources, const config::EnvLookup& env = config::process_env());

// The Kontena user token for the REST calls of a termination (api-token, else api-token-file),
// with where it came from; nullopt when neither is set. Errc::config_invalid when the file is
// unreadable or empty; messages name the file, never the value.
struct ApiToken {
  std::string value;   // secret
  std::string origin;  // "KONTENA_API_TOKEN" or the file's path
};
Result<std::optional<ApiToken>> resolve_api_token(const LeaveOptions& options);

}  // namespace kn::app

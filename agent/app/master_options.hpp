// What `run` and `doctor` need to reach the master: the token and the TLS settings.
#pragma once

#include "core/settings.hpp"
#include "link/tls_client.hpp"
#include "master/handshake.hpp"

#include <string>

namespace kn::app {

struct MasterToken {
  master::TokenKind kind = master::TokenKind::grid;
  std::string value;   // secret
  std::string origin;  // "KONTENA_TOKEN", "/path/file", ... for messages (never the value)
};

// The token for the upgrade header, first found of: node-token, node-token-file, token,
// token-file, $CREDENTIALS_DIRECTORY/kontena-token (systemd LoadCredential=). The node
// token wins, as in Kontena. Errc::config_invalid when none is set or a file is unreadable
// or empty; messages name the source, never the value.
Result<MasterToken> resolve_token(const config::Settings& settings,
                                  const config::EnvLookup& env = config::process_env());

// TLS settings for the master: ssl-verify, ssl-cert-file, ssl-hostname.
master::TlsOptions tls_options(const config::Settings& settings);

}  // namespace kn::app

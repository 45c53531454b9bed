// `kontena-agent run` (also `kontena-agent` alone): the daemon. Derives the labels from
// IMDS, ensures them on the Docker engine, connects to the Kontena master and keeps the node
// online there; reports to systemd (READY, STATUS, WATCHDOG, STOPPING) when run as a
// Type=notify service.
#pragma once

#include "core/settings.hpp"
#include "master/handshake.hpp"
#include "master/tls_client.hpp"

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

// Runs until SIGTERM/SIGINT (exit 0), a shutdown close code from the master (77, 79, 80,
// 81) or a start-up failure (64, 69, 78).
int run_command(const config::Settings& settings);

}  // namespace kn::app

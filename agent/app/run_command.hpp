// `kontena-agent run` (also `kontena-agent` alone): the daemon. Derives the labels from
// IMDS, ensures them on the Docker engine, connects to the Kontena master and keeps the node
// online there; reports to systemd (READY, STATUS, WATCHDOG, STOPPING) when run as a
// Type=notify service.
#pragma once

#include "app/agent_options.hpp"

#include <string>

namespace kn::app {

// Runs until SIGTERM/SIGINT (exit 0), a shutdown close code from the master (77, 79, 80,
// 81) or a start-up failure (64, 69, 78). SIGTERM during the start-up waits exits 0 too.
int run_command(const AgentOptions& options);

}  // namespace kn::app

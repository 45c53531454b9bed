// `kontena-bootstrap apply`: the on-instance oneshot (kontena-bootstrap.service, before
// docker.service). In order, each step only writing what changed (a second run changes
// nothing):
//   1. IMDS -> <root>/run/kontena/metadata.env (atomic, 0644)
//   2. node labels -> <root>/etc/docker/daemon.json through kn::docker::apply_labels, the
//      agent's code; dockerd is reloaded only when it already runs (found by its pidfile, so
//      a socket-activated docker is never started early)
//   3. <root>/etc/kontena/templates -> <root>/run/systemd/system, then daemon-reload and the
//      start/restart units over D-Bus. With --root other than / the D-Bus steps are skipped
//      and the output says so (image builds, tests).
// Every step runs even when an earlier one failed (a boot is better served by what can be
// done); the exit code is the first failure's. One line per step on stdout.
#pragma once

#include "bootstrap/options.hpp"

#include <iosfwd>

namespace kn::bootstrap {

int apply_command(const BootstrapOptions& options, std::ostream& out);

}  // namespace kn::bootstrap

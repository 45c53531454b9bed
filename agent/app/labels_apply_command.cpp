#include "docker/apply_command.hpp"

#include "app/cli.hpp"
#include "app/node_labels.hpp"

#include <iostream>

namespace kn::docker {

ApplyOptions apply_options(const config::Settings& settings) {
  ApplyOptions options;
  options.daemon_json = settings.get_or("docker-config", "/etc/docker/daemon.json");
  options.docker_host = settings.get_or("docker-host", "unix:///var/run/docker.sock");
  options.pidfile = settings.get_or("docker-pidfile", "/var/run/docker.pid");
  options.verify_deadline = settings.get_duration("docker-reload-timeout");
  return options;
}

int apply_labels_command(const config::Settings& settings) {
  auto identity = app::read_node_identity(settings);
  if (!identity) return cli::report(identity.error());
  auto report = apply_labels(identity->labels, apply_options(settings));
  if (!report) return cli::report(report.error());
  std::cout << report->summary << '\n' << std::flush;
  return exit_code::ok;
}

}  // namespace kn::docker

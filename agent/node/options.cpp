#include "node/options.hpp"

namespace kn::node {

docker::ApplyOptions apply_options(const config::Settings& settings) {
  docker::ApplyOptions options;
  options.daemon_json = settings.get_or("docker-config", "/etc/docker/daemon.json");
  options.docker_host = settings.get_or("docker-host", "unix:///var/run/docker.sock");
  options.pidfile = settings.get_or("docker-pidfile", "/var/run/docker.pid");
  options.verify_deadline = settings.get_duration("docker-reload-timeout");
  return options;
}

}  // namespace kn::node

#include "node/options.hpp"

#include "core/logging.hpp"

namespace kn::node {

Result<NodeOptions> node_options(const config::Settings& settings) {
  NodeOptions o;
  o.log_level = log::parse_level(settings.value("log-level"));

  o.imds.disabled = settings.get_bool("imds-disabled");
  o.imds.disabled_by = settings.setting("imds-disabled").origin;
  o.imds.verify_placement = settings.get_bool("verify-placement");
  const auto mode =
      settings.value("imds-endpoint-mode") == "IPv6" ? imds::EndpointMode::ipv6 : imds::EndpointMode::ipv4;
  auto endpoint = imds::resolve_endpoint(settings.get("imds-endpoint"), mode);
  if (!endpoint) return endpoint.error();
  o.imds.client.endpoint = std::move(*endpoint);
  o.imds.client.v1_fallback = !settings.get_bool("imds-v1-disabled");
  o.imds.client.deadline = settings.get_duration("imds-deadline");
  o.imds.client.request_timeout = settings.get_duration("imds-timeout");

  o.labels.ephemeral = settings.get_bool("ephemeral");
  auto extra = LabelSet::parse(settings.get_list("node-labels"));
  if (!extra) {
    return Failure(Errc::config_invalid, extra.error().message + " (from " + settings.setting("node-labels").origin + ")");
  }
  o.labels.extra = std::move(*extra);

  o.docker.daemon_json = settings.value("docker-config");
  o.docker.docker_host = settings.value("docker-host");
  o.docker.pidfile = settings.value("docker-pidfile");
  o.docker.verify_deadline = settings.get_duration("docker-reload-timeout");
  return o;
}

}  // namespace kn::node

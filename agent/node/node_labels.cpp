#include "node/node_labels.hpp"

#include "core/logging.hpp"
#include "http/curl_transport.hpp"

namespace kn::app {

Result<imds::Options> imds_options(const config::Settings& settings) {
  auto endpoint = imds::resolve_endpoint(settings.get("imds-endpoint"), settings.get_or("imds-endpoint-mode", "IPv4"));
  if (!endpoint) return endpoint.error();
  imds::Options o;
  o.endpoint = std::move(*endpoint);
  o.v1_fallback = !settings.get_bool("imds-v1-disabled");
  o.deadline = settings.get_duration("imds-deadline");
  o.request_timeout = settings.get_duration("imds-timeout");
  if (o.request_timeout.count() <= 0) {
    return fail(Errc::config_invalid, "invalid value for imds-timeout: must be more than 0");
  }
  return o;
}

Result<LabelOptions> label_options(const config::Settings& settings) {
  LabelOptions o;
  o.ephemeral = settings.get_bool("ephemeral");
  auto extra = LabelSet::parse(settings.get_list("node-labels"));
  if (!extra) {
    const auto& s = settings.setting("node-labels");
    return Failure(Errc::config_invalid, extra.error().message + " (from " + s.origin + ")");
  }
  o.extra = std::move(*extra);
  return o;
}

Result<std::optional<Placement>> read_node_placement(const config::Settings& settings, imds::PlacementQuery query) {
  if (settings.get_bool("imds-disabled")) {
    log::get("imds")->info("IMDS disabled by {}; using static labels only",
                           settings.setting("imds-disabled").origin);
    return std::optional<Placement>{};
  }
  auto options = imds_options(settings);
  if (!options) return options.error();
  query.verify_zone = query.verify_zone || settings.get_bool("verify-placement");
  http::CurlTransport transport;
  SteadyClock clock;
  imds::Client client(transport, clock, *options);
  auto placement = imds::read_placement(client, query, client.deadline_from_now());
  if (!placement) return placement.error();
  return std::optional<Placement>(std::move(*placement));
}

Result<NodeIdentity> read_node_identity(const config::Settings& settings, imds::PlacementQuery query) {
  auto opts = label_options(settings);  // validate static input before touching the network
  if (!opts) return opts.error();
  auto placement = read_node_placement(settings, query);
  if (!placement) return placement.error();
  auto labels = derive_labels(placement->has_value() ? &**placement : nullptr, *opts);
  if (!labels) return labels.error();
  return NodeIdentity{std::move(*placement), std::move(*labels)};
}

}  // namespace kn::app

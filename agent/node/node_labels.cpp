#include "node/node_labels.hpp"

#include "core/logging.hpp"
#include "http/curl_transport.hpp"

namespace kn::node {

Result<std::optional<Placement>> read_node_placement(const ImdsSettings& settings, imds::PlacementQuery query) {
  if (settings.disabled) {
    log::get("imds")->info("IMDS disabled by {}; using static labels only", settings.disabled_by);
    return std::optional<Placement>{};
  }
  query.verify_zone = query.verify_zone || settings.verify_placement;
  http::CurlTransport transport;
  SteadyClock clock;
  imds::Client client(transport, clock, settings.client);
  auto placement = imds::read_placement(client, query, client.deadline_from_now());
  if (!placement) return placement.error();
  return std::optional<Placement>(std::move(*placement));
}

Result<NodeIdentity> read_node_identity(const NodeOptions& options, imds::PlacementQuery query) {
  auto placement = read_node_placement(options.imds, query);
  if (!placement) return placement.error();
  auto labels = derive_labels(placement->has_value() ? &**placement : nullptr, options.labels);
  if (!labels) return labels.error();
  return NodeIdentity{std::move(*placement), std::move(*labels)};
}

}  // namespace kn::node

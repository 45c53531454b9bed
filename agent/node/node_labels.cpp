#include "node/node_labels.hpp"

#include "core/logging.hpp"
#include "http/curl_transport.hpp"

namespace kn::node {

namespace {

Result<std::optional<Placement>> read_with(const ImdsSettings& settings, imds::Client* client,
                                           imds::PlacementQuery query) {
  if (settings.disabled) {
    log::get("imds")->info("IMDS disabled by {}; using static labels only", settings.disabled_by);
    return std::optional<Placement>{};
  }
  query.verify_zone = query.verify_zone || settings.verify_placement;
  std::optional<http::CurlTransport> transport;
  std::optional<SteadyClock> clock;
  std::optional<imds::Client> own;
  if (client == nullptr) {
    transport.emplace();
    clock.emplace();
    client = &own.emplace(*transport, *clock, settings.client);
  }
  auto placement = imds::read_placement(*client, query, client->deadline_from_now());
  if (!placement) return placement.error();
  return std::optional<Placement>(std::move(*placement));
}

Result<NodeIdentity> identity_from(const NodeOptions& options, Result<std::optional<Placement>> placement) {
  if (!placement) return placement.error();
  auto labels = derive_labels(placement->has_value() ? &**placement : nullptr, options.labels);
  if (!labels) return labels.error();
  return NodeIdentity{std::move(*placement), std::move(*labels)};
}

}  // namespace

Result<std::optional<Placement>> read_node_placement(const ImdsSettings& settings, imds::PlacementQuery query) {
  return read_with(settings, nullptr, query);
}

Result<NodeIdentity> read_node_identity(const NodeOptions& options, imds::PlacementQuery query) {
  return identity_from(options, read_with(options.imds, nullptr, query));
}

Result<NodeIdentity> read_node_identity(const NodeOptions& options, imds::Client& client, imds::PlacementQuery query) {
  return identity_from(options, read_with(options.imds, &client, query));
}

}  // namespace kn::node

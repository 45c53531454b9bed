// From the typed settings to the node's placement and labels: builds the IMDS client,
// reads the placement and derives the labels. Shared by every command that needs them
// (kontena-agent labels/run, kontena-bootstrap apply/metadata).
#pragma once

#include "core/placement.hpp"
#include "imds/placement_reader.hpp"
#include "node/options.hpp"

#include <optional>

namespace kn::node {

// Empty optional when IMDS is disabled by configuration (AWS_EC2_METADATA_DISABLED).
Result<std::optional<Placement>> read_node_placement(const ImdsSettings& settings, imds::PlacementQuery query = {});

struct NodeIdentity {
  std::optional<Placement> placement;
  LabelSet labels;
};

Result<NodeIdentity> read_node_identity(const NodeOptions& options, imds::PlacementQuery query = {});
// As above with the caller's IMDS client (built from options.imds.client), so a later reader
// (the lifecycle watcher of `run`) reuses its token.
Result<NodeIdentity> read_node_identity(const NodeOptions& options, imds::Client& client,
                                        imds::PlacementQuery query = {});

}  // namespace kn::node

// From settings to the node's placement and labels: builds the IMDS client the settings
// describe, reads the placement and derives the labels. Shared by every command that needs
// them (kontena-agent labels/run, kontena-bootstrap apply/metadata).
#pragma once

#include "core/placement.hpp"
#include "core/settings.hpp"
#include "imds/imds_client.hpp"
#include "imds/placement_reader.hpp"

#include <optional>

namespace kn::app {

Result<imds::Options> imds_options(const config::Settings& settings);
Result<LabelOptions> label_options(const config::Settings& settings);

// Empty optional when IMDS is disabled by configuration (AWS_EC2_METADATA_DISABLED).
Result<std::optional<Placement>> read_node_placement(const config::Settings& settings,
                                                     imds::PlacementQuery query = {});

struct NodeIdentity {
  std::optional<Placement> placement;
  LabelSet labels;
};

Result<NodeIdentity> read_node_identity(const config::Settings& settings, imds::PlacementQuery query = {});

}  // namespace kn::app

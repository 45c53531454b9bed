// Reads the instance's Placement from IMDS in as few requests and round trips as possible.
//
// Boot path budget (README.md "kontena-agent labels"): 4 requests in two round trips with
// IMDSv2: the token, then at the same time the instance identity document (region, zone,
// instance id and type, private IP), placement/availability-zone-id and instance-life-cycle.
// Cross-checking the zone against placement/availability-zone costs a fifth request in the
// same round trip and is opt-in (doctor, --verify-placement).
#pragma once

#include "core/placement.hpp"
#include "imds/imds_client.hpp"

namespace kn::imds {

struct PlacementQuery {
  bool verify_zone = false;  // also read placement/availability-zone; it wins on disagreement
  bool addresses = false;    // also read local-ipv4 and public-ipv4 (for metadata.env)
};

Result<Placement> read_placement(Client& client, const PlacementQuery& query, Clock::time_point deadline);

}  // namespace kn::imds

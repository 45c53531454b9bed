// Where an instance runs, as read from IMDS, and the node labels derived from it
// (README.md "kontena-agent labels").
#pragma once

#include "core/error.hpp"
#include "core/labels.hpp"

#include <array>
#include <optional>
#include <string>

namespace kn {

struct Placement {
  std::string region;                // us-east-1 (from IMDS, never cut from the zone name)
  std::string availability_zone;     // us-east-1a, us-west-2-lax-1a
  std::string availability_zone_id;  // use1-az4 (the same physical zone in every account)
  std::string instance_id;
  std::string instance_type;
  std::string lifecycle;             // on-demand | spot | scheduled
  std::optional<std::string> private_ipv4;
  std::optional<std::string> public_ipv4;
};

// The zone within the region: "a" for us-east-1a, "lax-1a" for the Local Zone
// us-west-2-lax-1a, "wl1-bos-wlz-1" for the Wavelength zone us-east-1-wl1-bos-wlz-1.
// Fails when the zone name does not start with the region.
Result<std::string> zone_within_region(const Placement& p);

struct LabelOptions {
  bool ephemeral = true;
  LabelSet extra;  // user labels (KONTENA_NODE_LABELS); override derived ones
};

// Label keys (README.md "kontena-agent labels"). Kept in one place so Docker, the master and docs agree.
namespace label_key {
inline constexpr std::string_view region = "region";
inline constexpr std::string_view az = "az";
inline constexpr std::string_view availability_zone = "availability-zone";
inline constexpr std::string_view az_id = "az-id";
inline constexpr std::string_view instance_type = "instance-type";
inline constexpr std::string_view instance_id = "instance-id";
inline constexpr std::string_view lifecycle = "lifecycle";
inline constexpr std::string_view provider = "provider";
inline constexpr std::string_view ephemeral = "ephemeral";
// Every key the agent derives: in daemon.json these belong to the agent, so one it no longer
// derives (ephemeral turned off, IMDS disabled) is removed rather than left stale.
inline constexpr std::array<std::string_view, 9> derived{region,      az,        availability_zone,
                                                         az_id,       instance_type, instance_id,
                                                         lifecycle,   provider,  ephemeral};
}  // namespace label_key

// Derives the node labels. `placement` is null when IMDS is disabled by configuration:
// then only the static labels (ephemeral and the user's) are produced.
Result<LabelSet> derive_labels(const Placement* placement, const LabelOptions& options);

}  // namespace kn

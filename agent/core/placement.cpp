#include "core/placement.hpp"

#include "core/logging.hpp"

namespace kn {

Result<std::string> zone_within_region(const Placement& p) {
  const std::string_view zone = p.availability_zone;
  if (p.region.empty() || zone.size() <= p.region.size() || !zone.starts_with(p.region)) {
    return fail(Errc::imds_bad_response, "failed to derive the zone: availability zone '" + p.availability_zone +
                                             "' does not belong to region '" + p.region + "'");
  }
  auto rest = zone.substr(p.region.size());
  if (rest.starts_with('-')) rest.remove_prefix(1);
  if (rest.empty()) {
    return fail(Errc::imds_bad_response, "failed to derive the zone: availability zone '" + p.availability_zone +
                                             "' has nothing after its region");
  }
  return std::string(rest);
}

Result<LabelSet> derive_labels(const Placement* placement, const LabelOptions& options) {
  LabelSet labels;
  auto add = [&](std::string_view key, const std::string& value) -> Status {
    if (value.empty()) return {};
    return labels.add(Label{std::string(key), value});
  };
  if (placement != nullptr) {
    auto zone = zone_within_region(*placement);
    if (!zone) return zone.error();
    for (auto st : {add(label_key::region, placement->region), add(label_key::az, *zone),
                    add(label_key::availability_zone, placement->availability_zone),
                    add(label_key::az_id, placement->availability_zone_id),
                    add(label_key::instance_type, placement->instance_type),
                    add(label_key::instance_id, placement->instance_id),
                    add(label_key::lifecycle, placement->lifecycle), add(label_key::provider, "aws")}) {
      if (!st) return std::move(st).error().context("failed to derive labels from instance metadata");
    }
  }
  if (options.ephemeral) {
    if (auto st = add(label_key::ephemeral, "true"); !st) return st.error();
  }
  for (const auto& label : options.extra.items()) {
    if (auto previous = labels.assign(label); previous && *previous != label.value) {
      log::get("labels")->info("user label {} overrides derived value '{}'", label.str(), *previous);
    }
  }
  return labels;
}

}  // namespace kn

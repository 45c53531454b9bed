#include "imds/placement_reader.hpp"

#include "core/logging.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace kn::imds {
namespace {

// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html
constexpr std::string_view kIdentityDocument = "dynamic/instance-identity/document";
constexpr std::string_view kZone = "meta-data/placement/availability-zone";
constexpr std::string_view kZoneId = "meta-data/placement/availability-zone-id";
constexpr std::string_view kRegion = "meta-data/placement/region";
constexpr std::string_view kLifecycle = "meta-data/instance-life-cycle";
constexpr std::string_view kInstanceId = "meta-data/instance-id";
constexpr std::string_view kInstanceType = "meta-data/instance-type";
constexpr std::string_view kLocalIpv4 = "meta-data/local-ipv4";
constexpr std::string_view kPublicIpv4 = "meta-data/public-ipv4";

std::string field(const nlohmann::json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A key that must exist.
Result<std::string> required(std::string_view path, std::optional<std::string> value) {
  if (!value || value->empty()) {
    return fail(Errc::imds_bad_response, "failed to read " + std::string(path) + ": IMDS has no such key (404)");
  }
  return std::move(*value);
}

}  // namespace

Result<Placement> read_placement(Client& client, const PlacementQuery& query, Clock::time_point deadline) {
  auto logger = log::get("imds");
  Placement p;

  // Every key the query needs, read at once (one round trip after the token).
  std::vector<std::string_view> paths{kIdentityDocument, kZoneId, kLifecycle};
  if (query.verify_zone) paths.push_back(kZone);
  if (query.addresses) paths.insert(paths.end(), {kLocalIpv4, kPublicIpv4});
  auto values = client.get_many(paths, deadline);
  if (!values) return values.error();
  auto answer = [&](std::string_view path) -> std::optional<std::string>& {  // a path in `paths`
    return (*values)[static_cast<std::size_t>(std::ranges::find(paths, path) - paths.begin())];
  };

  if (const auto& doc_text = answer(kIdentityDocument)) {
    auto doc = nlohmann::json::parse(*doc_text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return fail(Errc::imds_bad_response, "failed to parse the instance identity document: not a JSON object");
    }
    p.region = field(doc, "region");
    p.availability_zone = field(doc, "availabilityZone");
    p.instance_id = field(doc, "instanceId");
    p.instance_type = field(doc, "instanceType");
    if (auto ip = field(doc, "privateIp"); !ip.empty()) p.private_ipv4 = ip;
  }

  if (query.verify_zone) {
    auto zone = required(kZone, std::move(answer(kZone)));
    if (!zone) return zone.error();
    if (!p.availability_zone.empty() && *zone != p.availability_zone) {
      logger->warn("instance identity document says availability zone {} but placement/availability-zone says {}; "
                   "using {} (placement is authoritative)", p.availability_zone, *zone, *zone);
    }
    p.availability_zone = std::move(*zone);
  }

  // Without an identity document (EC2 look-alikes) read the keys it would have given, in one
  // more batch.
  struct Fallback {
    std::string* target;
    std::string_view path;
  };
  std::vector<Fallback> missing;
  std::vector<std::string_view> missing_paths;
  for (auto f : {Fallback{&p.region, kRegion}, Fallback{&p.availability_zone, kZone},
                 Fallback{&p.instance_id, kInstanceId}, Fallback{&p.instance_type, kInstanceType}}) {
    if (!f.target->empty()) continue;
    missing.push_back(f);
    missing_paths.push_back(f.path);
  }
  if (!missing.empty()) {
    auto more = client.get_many(missing_paths, deadline);
    if (!more) return more.error();
    for (std::size_t i = 0; i < missing.size(); ++i) {
      auto v = required(missing[i].path, std::move((*more)[i]));
      if (!v) return v.error();
      *missing[i].target = std::move(*v);
    }
  }

  // Absent on old IMDS versions: the label is left out.
  if (auto& v = answer(kZoneId)) p.availability_zone_id = std::move(*v);
  if (auto& v = answer(kLifecycle)) p.lifecycle = std::move(*v);
  if (query.addresses) {
    p.private_ipv4 = std::move(answer(kLocalIpv4));
    p.public_ipv4 = std::move(answer(kPublicIpv4));
  }
  logger->debug("placement: region={} zone={} zone-id={} instance={} type={} lifecycle={}", p.region,
                p.availability_zone, p.availability_zone_id, p.instance_id, p.instance_type, p.lifecycle);
  return p;
}

}  // namespace kn::imds

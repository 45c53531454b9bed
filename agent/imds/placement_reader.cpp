#include "imds/placement_reader.hpp"

#include "core/logging.hpp"

#include <nlohmann/json.hpp>

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

// Reads a key that must exist.
Result<std::string> required(Client& client, std::string_view path, Clock::time_point deadline) {
  auto v = client.get(path, deadline);
  if (!v) return v.error();
  if (!*v || (*v)->empty()) {
    return fail(Errc::imds_bad_response, "failed to read " + std::string(path) + ": IMDS has no such key (404)");
  }
  return std::move(**v);
}

}  // namespace

Result<Placement> read_placement(Client& client, const PlacementQuery& query, Clock::time_point deadline) {
  auto logger = log::get("imds");
  Placement p;

  auto doc_text = client.get(kIdentityDocument, deadline);
  if (!doc_text) return doc_text.error();
  if (*doc_text) {
    auto doc = nlohmann::json::parse(**doc_text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return fail(Errc::imds_bad_response, "failed to parse the instance identity document: not a JSON object");
    }
    p.region = field(doc, "region");
    p.availability_zone = field(doc, "availabilityZone");
    p.instance_id = field(doc, "instanceId");
    p.instance_type = field(doc, "instanceType");
    if (auto ip = field(doc, "privateIp"); !ip.empty()) p.private_ipv4 = ip;
  }
  // Without an identity document (EC2 look-alikes) read the keys one by one.
  struct Fallback {
    std::string* target;
    std::string_view path;
  };
  for (auto [target, path] : {Fallback{&p.region, kRegion}, Fallback{&p.availability_zone, kZone},
                              Fallback{&p.instance_id, kInstanceId}, Fallback{&p.instance_type, kInstanceType}}) {
    if (!target->empty()) continue;
    auto v = required(client, path, deadline);
    if (!v) return v.error();
    *target = std::move(*v);
  }

  if (query.verify_zone) {
    auto zone = required(client, kZone, deadline);
    if (!zone) return zone.error();
    if (*zone != p.availability_zone) {
      logger->warn("instance identity document says availability zone {} but placement/availability-zone says {}; "
                   "using {} (placement is authoritative)", p.availability_zone, *zone, *zone);
      p.availability_zone = std::move(*zone);
    }
  }

  for (auto [target, path] : {Fallback{&p.availability_zone_id, kZoneId}, Fallback{&p.lifecycle, kLifecycle}}) {
    auto v = client.get(path, deadline);
    if (!v) return v.error();
    if (*v) *target = std::move(**v);  // absent on old IMDS versions: the label is left out
  }

  if (query.addresses) {
    auto local = client.get(kLocalIpv4, deadline);
    if (!local) return local.error();
    p.private_ipv4 = *local;
    auto pub = client.get(kPublicIpv4, deadline);
    if (!pub) return pub.error();
    p.public_ipv4 = *pub;
  }
  logger->debug("placement: region={} zone={} zone-id={} instance={} type={} lifecycle={}", p.region,
                p.availability_zone, p.availability_zone_id, p.instance_id, p.instance_type, p.lifecycle);
  return p;
}

}  // namespace kn::imds

// IMDS responses (imds/placement_reader.hpp over imds/imds_client.hpp): the identity document
// and the single-value keys, served by an in-process transport (no network at all).
// Input: fields separated by \x01 in the order of kPaths below; an empty field is a 404.
// Properties: a placement that reads derives labels that pass the label rules, with the
// region taken verbatim and the zone equal to region + az (or region-az for Local Zones).
#include "core/clock.hpp"
#include "core/labels.hpp"
#include "core/logging.hpp"
#include "core/placement.hpp"
#include "fuzz_check.hpp"
#include "http/http_transport.hpp"
#include "imds/imds_client.hpp"
#include "imds/placement_reader.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

using namespace kn;

namespace {

constexpr std::array<std::string_view, 9> kPaths{
    "dynamic/instance-identity/document", "meta-data/placement/availability-zone-id", "meta-data/instance-life-cycle",
    "meta-data/placement/availability-zone", "meta-data/local-ipv4", "meta-data/public-ipv4",
    "meta-data/placement/region", "meta-data/instance-id", "meta-data/instance-type"};

class FuzzTransport final : public http::Transport {
 public:
  explicit FuzzTransport(std::string_view input) {
    for (auto& body : bodies_) body = std::string(fuzz::next_field(input));
  }
  Result<http::Response> perform(const http::Request& request) override {
    http::Response res;
    if (request.method == "PUT") {  // the IMDSv2 token
      res.status = 200;
      res.body = "fuzz-token";
      return res;
    }
    res.status = 404;
    for (std::size_t i = 0; i < kPaths.size(); ++i) {
      if (request.url.ends_with("/latest/" + std::string(kPaths[i])) && !bodies_[i].empty()) {
        res.status = 200;
        res.body = bodies_[i];
      }
    }
    return res;
  }

 private:
  std::array<std::string, kPaths.size()> bodies_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();

  FuzzTransport transport(std::string_view(reinterpret_cast<const char*>(data), size));
  ManualClock clock;
  imds::Options options;
  options.endpoint = "http://127.0.0.1:9";  // never dialled: the transport answers
  imds::Client client(transport, clock, options);
  const auto placement =
      imds::read_placement(client, {.verify_zone = (size % 2) == 0, .addresses = true}, client.deadline_from_now());
  if (!placement) return 0;

  const auto labels = derive_labels(&*placement, LabelOptions{});
  if (!labels) return 0;
  for (const auto& label : labels->items()) {
    fuzz::check(validate_label(label).has_value(), "a derived label passes the label rules", label.str());
  }
  fuzz::check(labels->get(label_key::region) == std::optional<std::string_view>(placement->region),
              "the region label is the region IMDS gave", placement->region);
  if (const auto az = labels->get(label_key::az)) {
    const auto& zone = placement->availability_zone;
    fuzz::check(zone == placement->region + std::string(*az) || zone == placement->region + "-" + std::string(*az),
                "the zone is region + az", zone);
  }
  return 0;
}

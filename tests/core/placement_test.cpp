#include "core/placement.hpp"

#include "support/catch_result.hpp"

using kn::Placement;

namespace {
Placement make(std::string region, std::string zone, std::string zone_id) {
  return Placement{.region = std::move(region), .availability_zone = std::move(zone),
                   .availability_zone_id = std::move(zone_id), .instance_id = "i-0abc", .instance_type = "t3.small",
                   .lifecycle = "on-demand"};
}
}  // namespace

TEST_CASE("placement: zone within region for regular, Local and Wavelength zones", "[labels]") {
  auto [region, zone, expected] = GENERATE(table<std::string, std::string, std::string>({
      {"eu-central-1", "eu-central-1a", "a"},
      {"us-east-1", "us-east-1f", "f"},
      {"ap-northeast-1", "ap-northeast-1d", "d"},
      {"us-west-2", "us-west-2-lax-1a", "lax-1a"},
      {"us-west-2", "us-west-2-lax-1b", "lax-1b"},
      {"us-east-1", "us-east-1-wl1-bos-wlz-1", "wl1-bos-wlz-1"},
      {"cn-north-1", "cn-north-1a", "a"},
      {"us-gov-west-1", "us-gov-west-1a", "a"},
  }));
  auto z = kn::zone_within_region(make(region, zone, ""));
  REQUIRE(z);
  CHECK(*z == expected);
}

TEST_CASE("placement: a zone outside its region is an error, never a guess", "[labels]") {
  auto z = kn::zone_within_region(make("us-east-1", "eu-west-1a", ""));
  REQUIRE_FALSE(z);
  CHECK_THAT(z.error().message, Catch::Contains("eu-west-1a") && Catch::Contains("us-east-1"));
}

TEST_CASE("placement: derived labels for a Local Zone keep the real region", "[labels]") {
  auto p = make("us-west-2", "us-west-2-lax-1a", "usw2-lax1-az1");
  auto labels = kn::derive_labels(&p, {});
  REQUIRE(labels);
  CHECK(labels->strings() == std::vector<std::string>{
                                 "region=us-west-2", "az=lax-1a", "availability-zone=us-west-2-lax-1a",
                                 "az-id=usw2-lax1-az1", "instance-type=t3.small", "instance-id=i-0abc",
                                 "lifecycle=on-demand", "provider=aws", "ephemeral=true"});
}

TEST_CASE("placement: ephemeral can be turned off, and user labels override derived ones", "[labels]") {
  auto p = make("eu-central-1", "eu-central-1b", "euc1-az3");
  kn::LabelOptions options;
  options.ephemeral = false;
  REQUIRE(options.extra.add({"az", "custom"}));
  REQUIRE(options.extra.add({"team", "x"}));
  auto labels = kn::derive_labels(&p, options);
  REQUIRE(labels);
  CHECK(labels->get("az") == std::optional<std::string_view>("custom"));
  CHECK(labels->get("team") == std::optional<std::string_view>("x"));
  CHECK_FALSE(labels->get("ephemeral"));
  CHECK(labels->get("region") == std::optional<std::string_view>("eu-central-1"));
}

TEST_CASE("placement: without IMDS only static labels remain", "[labels]") {
  kn::LabelOptions options;
  REQUIRE(options.extra.add({"role", "test"}));
  auto labels = kn::derive_labels(nullptr, options);
  REQUIRE(labels);
  CHECK(labels->strings() == std::vector<std::string>{"ephemeral=true", "role=test"});
}

TEST_CASE("placement: a missing zone id leaves the az-id label out", "[labels]") {
  auto p = make("eu-west-1", "eu-west-1c", "");
  auto labels = kn::derive_labels(&p, {});
  REQUIRE(labels);
  CHECK_FALSE(labels->get("az-id"));
  CHECK(labels->get("az") == std::optional<std::string_view>("c"));
}

#include "core/labels.hpp"

#include "support/catch_result.hpp"

using kn::Errc;
using kn::Label;
using kn::LabelSet;

TEST_CASE("labels: valid key=value items parse", "[labels]") {
  auto item = GENERATE(as<std::string>{}, "az=a", "region=us-east-1", "ephemeral=true", "team=x", "a.b-c_d/e=1",
                       "empty=");
  auto label = kn::parse_label(item);
  REQUIRE(label);
  CHECK(label->str() == item);
}

TEST_CASE("labels: Docker's reserved prefixes are refused in any case, with the fix", "[labels]") {
  auto item = GENERATE(as<std::string>{}, "com.docker.x=1", "io.docker.y=2", "org.dockerproject.z=3",
                       "COM.Docker.x=1");
  auto label = kn::parse_label(item);
  REQUIRE_FALSE(label);
  CHECK(label.error().is(Errc::label_invalid));
  CHECK_THAT(label.error().message, Catch::Contains("reserved by Docker") && Catch::Contains("choose another key"));
}

TEST_CASE("labels: malformed items are refused naming the item", "[labels]") {
  auto [item, why] = GENERATE(table<std::string, std::string>({
      {"noequals", "missing '='"},
      {"=value", "empty key"},
      {"sp ace=1", "keys may hold only"},
      {"k=v,w", "values may not hold"},
      {"k=a b", "values may not hold"},
      {"k=\"q\"", "values may not hold"},
      {"k=back\\slash", "values may not hold"},
  }));
  auto label = kn::parse_label(item);
  REQUIRE_FALSE(label);
  CHECK_THAT(label.error().message, Catch::Contains(item) && Catch::Contains(why));
}

TEST_CASE("labels: one key never carries two values", "[labels]") {
  std::vector<std::string> items{"az=a", "az=b"};
  auto set = LabelSet::parse(items);
  REQUIRE_FALSE(set);
  CHECK_THAT(set.error().message, Catch::Contains("'az' has two values") && Catch::Contains("'a'") &&
                                      Catch::Contains("'b'"));
}

TEST_CASE("labels: exact duplicates collapse, order is kept", "[labels]") {
  std::vector<std::string> items{"b=2", "a=1", "b=2"};
  auto set = LabelSet::parse(items);
  REQUIRE(set);
  CHECK(set->strings() == std::vector<std::string>{"b=2", "a=1"});
}

TEST_CASE("labels: assign replaces and reports the old value", "[labels]") {
  LabelSet a;
  REQUIRE(a.add({"x", "1"}));
  REQUIRE(a.add({"y", "2"}));
  CHECK(a.assign({"x", "9"}) == std::optional<std::string>("1"));
  CHECK(a.get("x") == std::optional<std::string_view>("9"));
}

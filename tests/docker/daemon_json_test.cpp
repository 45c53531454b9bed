// The daemon.json label merge as a pure function: text in, text out.
#include "docker/daemon_json.hpp"
#include "support/catch_result.hpp"

#include <nlohmann/json.hpp>

using kn::LabelSet;
using kn::docker::merge_labels;

namespace {

LabelSet labels(std::vector<std::string> items) { return LabelSet::parse(items).value(); }

const LabelSet kWanted = labels({"region=eu-central-1", "az=a", "ephemeral=true"});

std::vector<std::string> keys_of(const std::string& text) {
  std::vector<std::string> keys;
  const auto doc = nlohmann::ordered_json::parse(text);
  for (const auto& [k, v] : doc.items()) keys.push_back(k);
  return keys;
}

}  // namespace

TEST_CASE("a missing file is created with just the labels") {
  auto merged = merge_labels(std::nullopt, kWanted, "/etc/docker/daemon.json");
  REQUIRE(merged);
  CHECK(merged->changed);
  CHECK(nlohmann::json::parse(merged->text) ==
        nlohmann::json::parse(R"({"labels":["region=eu-central-1","az=a","ephemeral=true"]})"));
  CHECK(merged->added.size() == 3);
}

TEST_CASE("other keys and foreign labels are kept in their order") {
  const std::string before = R"({"log-driver":"json-file","labels":["team=x"],"debug":true,"log-opts":{"max-size":"10m"}})";
  auto merged = merge_labels(before, kWanted, "daemon.json");
  REQUIRE(merged);
  CHECK(merged->changed);
  CHECK(keys_of(merged->text) == std::vector<std::string>{"log-driver", "labels", "debug", "log-opts"});
  const auto doc = nlohmann::json::parse(merged->text);
  CHECK(doc["log-driver"] == "json-file");
  CHECK(doc["debug"] == true);
  CHECK(doc["log-opts"]["max-size"] == "10m");
  CHECK(doc["labels"] == nlohmann::json::parse(R"(["team=x","region=eu-central-1","az=a","ephemeral=true"])"));
  CHECK(merged->replaced.empty());
}

TEST_CASE("a managed key with another value is replaced in place and reported") {
  auto merged = merge_labels(R"({"labels":["az=b","team=x","region=eu-central-1"]})", kWanted, "daemon.json");
  REQUIRE(merged);
  CHECK(merged->labels == std::vector<std::string>{"az=a", "team=x", "region=eu-central-1", "ephemeral=true"});
  REQUIRE(merged->replaced.size() == 1);
  CHECK(merged->replaced[0].key == "az");
  CHECK(merged->replaced[0].old_value == "b");
  CHECK(merged->replaced[0].new_value == "a");
}

TEST_CASE("a derived label no longer wanted is removed - a foreign one stays") {
  // ephemeral turned off, IMDS disabled: the old derived labels must not linger.
  auto merged = merge_labels(R"({"labels":["ephemeral=true","team=x","az=b","instance-id=i-1","ephemeral=false"]})",
                             labels({"team=x", "region=eu-central-1"}), "f");
  REQUIRE(merged);
  CHECK(merged->changed);
  CHECK(merged->labels == std::vector<std::string>{"team=x", "region=eu-central-1"});
  CHECK(merged->removed == std::vector<std::string>{"ephemeral=true", "az=b", "instance-id=i-1", "ephemeral=false"});
  auto again = merge_labels(merged->text, labels({"team=x", "region=eu-central-1"}), "f");
  REQUIRE(again);
  CHECK_FALSE(again->changed);
}

TEST_CASE("a second entry for a managed key is dropped (dockerd refuses one key with two values)") {
  auto merged = merge_labels(R"({"labels":["az=a","az=c","region=eu-central-1","ephemeral=true"]})", kWanted, "f");
  REQUIRE(merged);
  CHECK(merged->changed);
  CHECK(merged->labels == std::vector<std::string>{"az=a", "region=eu-central-1", "ephemeral=true"});
}

TEST_CASE("a foreign key with two values is an error since only the file's owner can choose") {
  auto merged = merge_labels(R"({"labels":["team=x","team=y"]})", kWanted, "f");
  REQUIRE_FALSE(merged);
  CHECK_THAT(merged.error().message, Catch::Contains("team=x") && Catch::Contains("team=y"));
  // An exact duplicate is harmless (dockerd collapses it) and kept.
  CHECK(merge_labels(R"({"labels":["team=x","team=x"]})", kWanted, "f"));
}

TEST_CASE("merging the merged text again changes nothing byte for byte") {
  auto first = merge_labels(R"({"log-driver":"json-file","labels":["team=x"]})", kWanted, "f");
  REQUIRE(first);
  auto second = merge_labels(first->text, kWanted, "f");
  REQUIRE(second);
  CHECK_FALSE(second->changed);
  CHECK(second->text == first->text);
}

TEST_CASE("a file already holding the labels in another order or layout is left as it is") {
  const std::string text = "{ \"labels\": [\"ephemeral=true\", \"az=a\",\n \"region=eu-central-1\"] }";
  auto merged = merge_labels(text, kWanted, "f");
  REQUIRE(merged);
  CHECK_FALSE(merged->changed);
  CHECK(merged->text == text);
}

TEST_CASE("an empty file counts as no settings and a byte order mark is accepted") {
  auto empty = merge_labels(" \n", kWanted, "f");
  REQUIRE(empty);
  CHECK(empty->changed);
  auto bom = merge_labels("\xEF\xBB\xBF{\"debug\":true}", kWanted, "f");
  REQUIRE(bom);
  CHECK(keys_of(bom->text) == std::vector<std::string>{"debug", "labels"});
}

TEST_CASE("the merge never adds keys other than labels") {
  auto merged = merge_labels("{}", kWanted, "f");
  REQUIRE(merged);
  CHECK(keys_of(merged->text) == std::vector<std::string>{"labels"});
}

TEST_CASE("malformed JSON is an error naming the file with line and column") {
  auto merged = merge_labels("{\n  \"debug\": true,\n  \"labels\": [\"a=b\" \"c=d\"]\n}", kWanted, "/etc/docker/daemon.json");
  REQUIRE_FALSE(merged);
  CHECK(merged.error().is(kn::Errc::docker_config_invalid));
  CHECK(merged.error().exit_code() == 78);
  CHECK_THAT(merged.error().message, Catch::Contains("/etc/docker/daemon.json") && Catch::Contains("line 3, column "));
  CHECK_THAT(merged.error().message, Catch::Contains("left unchanged"));
}

TEST_CASE("wrong shapes are errors and not rewrites") {
  const char* text = GENERATE(R"(["labels"])", R"({"labels":"az=a"})", R"({"labels":[1]})", R"({"labels":["novalue"]})");
  auto merged = merge_labels(text, kWanted, "f");
  REQUIRE_FALSE(merged);
  CHECK(merged.error().is(kn::Errc::docker_config_invalid));
}

TEST_CASE("labels_in_config reads the array and is empty when the key is absent") {
  CHECK(kn::docker::labels_in_config(R"({"labels":["a=1"]})", "f").value() == std::vector<std::string>{"a=1"});
  CHECK(kn::docker::labels_in_config(std::nullopt, "f").value().empty());
  CHECK_FALSE(kn::docker::labels_in_config("{", "f"));
}

// kontena-bootstrap render's values file: a value of the wrong YAML type or a URL the agent
// would refuse is a configuration error naming the file, the line and the key.
#include "bootstrap/values_file.hpp"

#include "support/catch_result.hpp"
#include "support/process.hpp"

#include <fstream>

using namespace kn;

namespace {

Result<bootstrap::Values> load(const test::TempDir& dir, const std::string& yaml) {
  std::ofstream(dir / "token") << "grid-token\n";
  std::ofstream(dir / "v.yml") << yaml;
  return bootstrap::load_values_file(dir / "v.yml");
}

}  // namespace

TEST_CASE("values file: a mapping inside node_labels exits 78 naming file, line and key") {
  test::TempDir dir;
  auto v = load(dir, "url: https://master.example.com\ntoken_file: token\nnode_labels: [{a: 1}]\n");
  REQUIRE_FALSE(v.has_value());
  CHECK(v.error().exit_code() == exit_code::config);
  CHECK_THAT(v.error().message, Catch::Contains((dir / "v.yml").string() + ":3: node_labels"));
}

TEST_CASE("values file: a list where a single value belongs names its line") {
  test::TempDir dir;
  auto v = load(dir, "token_file: token\nurl: [https://master.example.com]\n");
  REQUIRE_FALSE(v.has_value());
  CHECK(v.error().exit_code() == exit_code::config);
  CHECK_THAT(v.error().message, Catch::Contains("v.yml:2: url: must be a single value"));
}

TEST_CASE("values file: the master URL follows the agent's rules (path / only)") {
  test::TempDir dir;
  auto v = load(dir, "url: https://master.example.com/api\ntoken_file: token\n");
  REQUIRE_FALSE(v.has_value());
  CHECK_THAT(v.error().message, Catch::Contains("url") && Catch::Contains("path /"));
  auto ok = load(dir, "url: https://master.example.com\ntoken_file: token\nnode_labels: a=1, b=2\n");
  REQUIRE(ok.has_value());
  CHECK(ok->labels.strings() == std::vector<std::string>{"a=1", "b=2"});
}

TEST_CASE("values file: artifact takes {url, sha512} or {baked: true} and refuses what Ignition would not fetch") {
  test::TempDir dir;
  const std::string base = "url: https://master.example.com\ntoken_file: token\n";
  const std::string hash(128, 'a');
  auto ok = load(dir, base + "artifact:\n  url: s3://bucket/kontena-node-0.1.0-x86-64.raw\n  sha512: " +
                          std::string(128, 'A') + "\n");
  REQUIRE(ok.has_value());
  REQUIRE(ok->artifact.has_value());
  CHECK(ok->artifact->sha512 == hash);  // lowercased, as Ignition's verification.hash wants
  CHECK_FALSE(ok->artifact->baked);

  auto baked = load(dir, base + "artifact: {baked: true}\n");
  REQUIRE(baked.has_value());
  CHECK(baked->artifact->baked);

  auto loopback = load(dir, base + "artifact: {url: 'http://127.0.0.1:8080/k.raw', sha512: " + hash + "}\n");
  CHECK(loopback.has_value());

  const auto refused = [&](const std::string& artifact, const std::string& message) {
    auto v = load(dir, base + "artifact: " + artifact + "\n");
    INFO(artifact);
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error().exit_code() == exit_code::config);
    CHECK_THAT(v.error().message, Catch::Contains(message));
  };
  refused("{url: 'http://downloads.example.com/k.raw', sha512: " + hash + "}",
          "artifact.url: 'http://downloads.example.com/k.raw': use https:// or s3://");
  refused("{url: 'ftp://example.com/k.raw', sha512: " + hash + "}", "use https:// or s3://");
  refused("{url: 'https://example.com/k.raw', sha512: abc}", "artifact.sha512: expected the 128 hex digits");
  refused("{url: 'https://example.com/k.raw'}", "artifact: set both url and sha512");
  refused("{baked: true, url: 'https://example.com/k.raw'}", "baked: true installs nothing");
  refused("{baked: maybe}", "artifact.baked: 'maybe' is not true or false");
  refused("{sha: x}", "artifact.sha: unknown key");
  refused("https://example.com/k.raw", "expected {url: ..., sha512: ...} or {baked: true}");
}

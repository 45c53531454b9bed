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

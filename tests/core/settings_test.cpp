#include "core/settings.hpp"

#include "support/process.hpp"

#include "support/catch_result.hpp"

#include <fstream>

using kn::config::Settings;
using kn::config::Source;
using kn::config::Sources;

namespace {
kn::config::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}
}  // namespace

TEST_CASE("settings: precedence is flag > env > file > default", "[config]") {
  kn::test::TempDir dir;
  const auto file = dir / "agent.yml";
  std::ofstream(file) << "imds-deadline: 5s\nimds-timeout: 2s\nlog-level: warn\n";

  auto [flag, env, expected, source] = GENERATE(table<bool, bool, std::string, Source>({
      {true, true, "100ms", Source::flag},
      {false, true, "7s", Source::environment},
      {false, false, "5s", Source::file},
  }));
  Sources s;
  std::map<std::string, std::string> vars{{"KONTENA_CONFIG", file.string()}};
  if (env) vars["KONTENA_IMDS_DEADLINE"] = "7s";
  s.env = env_of(vars);
  if (flag) s.flags["imds-deadline"] = "100ms";
  auto settings = Settings::load(s);
  REQUIRE(settings);
  CHECK(settings->get("imds-deadline") == expected);
  CHECK(settings->setting("imds-deadline").source == source);
  // Untouched settings keep their file or default values.
  CHECK(settings->get("log-level") == "warn");
  CHECK(settings->get("imds-endpoint-mode") == "IPv4");
  CHECK(settings->setting("imds-endpoint-mode").source == Source::default_value);
}

TEST_CASE("settings: environment aliases (KONTENA_URI) are honoured", "[config]") {
  Sources s;
  s.env = env_of({{"KONTENA_CONFIG", "/dev/null"}, {"KONTENA_URI", "https://master.example.com/"}});
  auto settings = Settings::load(s);
  REQUIRE(settings);
  CHECK(settings->get("url") == "https://master.example.com/");
  CHECK(settings->setting("url").origin == "KONTENA_URI");
}

TEST_CASE("settings: bad values name their origin and the fix", "[config]") {
  auto [var, value, needle] = GENERATE(table<std::string, std::string, std::string>({
      {"KONTENA_IMDS_DEADLINE", "soon", "use e.g. 500ms"},
      {"KONTENA_EPHEMERAL", "maybe", "use true or false"},
      {"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", "IPv4|IPv6"},
      {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254", "scheme://host"},
  }));
  Sources s;
  s.env = env_of({{"KONTENA_CONFIG", "/dev/null"}, {var, value}});
  auto settings = Settings::load(s);
  REQUIRE_FALSE(settings);
  CHECK(settings.error().is(kn::Errc::config_invalid));
  CHECK_THAT(settings.error().message, Catch::Contains(var) && Catch::Contains(needle));
}

TEST_CASE("settings: a bad flag value is a usage error (exit 64)", "[config]") {
  Sources s;
  s.env = env_of({{"KONTENA_CONFIG", "/dev/null"}});
  s.flags["imds-timeout"] = "fast";
  auto settings = Settings::load(s);
  REQUIRE_FALSE(settings);
  CHECK(settings.error().exit_code() == 64);
  CHECK_THAT(settings.error().message, Catch::Contains("--imds-timeout"));
}

TEST_CASE("settings: config file errors are exit 78 with file, key or position", "[config]") {
  kn::test::TempDir dir;
  const auto file = dir / "agent.yml";
  auto [content, needle] = GENERATE(table<std::string, std::string>({
      {"no-such-setting: 1\n", "unknown setting 'no-such-setting'"},
      {"imds-deadline: [1, 2\n", "line "},
      {"- a\n- b\n", "expected a mapping"},
      {"imds-deadline: {a: 1}\n", "must be a single value"},
      {"ephemeral: true\nnode-labels: [{a: 1}]\n", ":2: setting 'node-labels'"},
      {"node-labels: [[a=1]]\n", ":1: setting 'node-labels'"},
      {"? [a]\n: 1\n", ":1: a setting name must be a plain word"},
  }));
  std::ofstream(file) << content;
  Sources s;
  s.env = env_of({{"KONTENA_CONFIG", file.string()}});
  auto settings = Settings::load(s);
  REQUIRE_FALSE(settings);
  CHECK(settings.error().exit_code() == 78);
  CHECK_THAT(settings.error().message, Catch::Contains(file.string()) && Catch::Contains(needle));
}

TEST_CASE("settings: a missing default config file is fine, a missing named one is not", "[config]") {
  kn::test::TempDir dir;
  Sources s;
  s.env = env_of({});
  s.default_config = (dir / "agent.yml").string();  // not the host's /etc/kontena/agent.yml
  CHECK(Settings::load(s));
  s.env = env_of({{"KONTENA_CONFIG", "/nonexistent/agent.yml"}});
  auto settings = Settings::load(s);
  REQUIRE_FALSE(settings);
  CHECK_THAT(settings.error().message, Catch::Contains("/nonexistent/agent.yml") && Catch::Contains("no such file"));
}

TEST_CASE("settings: --print-config masks secrets and shows sources", "[config]") {
  Sources s;
  s.env = env_of({{"KONTENA_CONFIG", "/dev/null"}, {"KONTENA_TOKEN", "s3cr3t-grid-token"},
                  {"KONTENA_NODE_LABELS", "team=x"}});
  auto settings = Settings::load(s);
  REQUIRE(settings);
  const auto text = settings->describe(kn::config::Scope::agent);
  CHECK_THAT(text, !Catch::Contains("s3cr3t"));
  CHECK_THAT(text, Catch::Contains("token = ******** (17 chars)    # env: KONTENA_TOKEN"));
  CHECK_THAT(text, Catch::Contains("node-labels = team=x    # env: KONTENA_NODE_LABELS"));
  CHECK_THAT(text, Catch::Contains("imds-deadline = 60s    # default"));
}

TEST_CASE("settings: label lists split on whitespace and commas", "[config]") {
  Sources s;
  s.env = env_of({{"KONTENA_CONFIG", "/dev/null"}, {"KONTENA_NODE_LABELS", " a=1, b=2\tc=3 ,"}});
  auto settings = Settings::load(s);
  REQUIRE(settings);
  CHECK(settings->get_list("node-labels") == std::vector<std::string>{"a=1", "b=2", "c=3"});
}

TEST_CASE("settings: secrets have no flag, so they never reach argv", "[config]") {
  for (const auto& spec : kn::config::option_table()) {
    if (spec.secret) CHECK(spec.flag.empty());
  }
}

TEST_CASE("settings: durations", "[config]") {
  using namespace std::chrono_literals;
  auto [text, ms] = GENERATE(table<std::string, long>({{"500ms", 500}, {"2s", 2000}, {"2", 2000}, {"1.5s", 1500},
                                                       {"2m", 120000}, {"1h", 3600000}}));
  auto d = kn::config::parse_duration(text);
  REQUIRE(d);
  CHECK(d->count() == ms);
  CHECK_FALSE(kn::config::parse_duration("-1s"));
  CHECK_FALSE(kn::config::parse_duration("1 day"));
}

TEST_CASE("settings: choices match in any case and are stored in the table's spelling", "[config]") {
  Sources s;
  s.env = env_of({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "Ipv6"}, {"KONTENA_CONFIG", "/dev/null"}});
  s.flags["log-level"] = "DEBUG";
  auto settings = Settings::load(s);
  REQUIRE(settings);
  CHECK(settings->value("imds-endpoint-mode") == "IPv6");
  CHECK(settings->value("log-level") == "debug");
}

TEST_CASE("settings: durations below the table's minimum are refused naming the minimum", "[config]") {
  Sources s;
  s.env = env_of({{"KONTENA_PING_INTERVAL", "50ms"}, {"KONTENA_CONFIG", "/dev/null"}});
  auto settings = Settings::load(s);
  REQUIRE_FALSE(settings);
  CHECK(settings.error().exit_code() == 78);
  CHECK_THAT(settings.error().message, Catch::Contains("KONTENA_PING_INTERVAL") && Catch::Contains("at least 100ms"));
}

TEST_CASE("settings: split_list splits on whitespace and commas", "[config]") {
  CHECK(kn::config::split_list(" a, b\tc,,d ") == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(kn::config::split_list("").empty());
}

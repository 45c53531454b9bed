// kontena-agent as users run it: a real process against the IMDS simulator.
#include "core/settings.hpp"
#include "support/catch_result.hpp"
#include "support/imds_sim.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

using namespace std::chrono_literals;
using kn::test::binary;
using kn::test::Env;
using kn::test::ImdsSim;
using kn::test::run;

namespace {

// Every run points at a loopback simulator or has IMDS disabled: never the real address.
Env offline_env() {
  Env e;
  e.set = {{"AWS_EC2_METADATA_DISABLED", "true"}, {"KONTENA_CONFIG", "/dev/null"}};
  e.unset = {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "KONTENA_NODE_LABELS", "KONTENA_TOKEN"};
  return e;
}

std::size_t line_count(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_CASE("cli: --help teaches commands, settings with their env names, and exit codes", "[cli]") {
  auto r = run({binary("kontena-agent"), "--help"}, offline_env());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("labels") && Catch::Contains("AWS_EC2_METADATA_SERVICE_ENDPOINT") &&
                        Catch::Contains("KONTENA_NODE_LABELS") && Catch::Contains("Exit codes"));
  auto sub = run({binary("kontena-agent"), "labels", "--help"}, offline_env());
  CHECK(sub.exit_code == 0);
  CHECK_THAT(sub.out, Catch::Contains("--format") && Catch::Contains("json"));
}

TEST_CASE("cli: --version prints the project version", "[cli]") {
  auto r = run({binary("kontena-agent"), "--version"}, offline_env());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("kontena-agent " KN_VERSION));
}

TEST_CASE("cli: an unknown flag exits 64 with one line", "[cli]") {
  auto r = run({binary("kontena-agent"), "labels", "--no-such-flag"}, offline_env());
  CHECK(r.exit_code == 64);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("--no-such-flag") && Catch::Contains("--help"));
}

TEST_CASE("cli: a bad environment value exits 78 naming the variable", "[cli]") {
  auto env = offline_env();
  env.set["KONTENA_IMDS_DEADLINE"] = "forever";
  auto r = run({binary("kontena-agent"), "labels"}, env);
  CHECK(r.exit_code == 78);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("KONTENA_IMDS_DEADLINE") && Catch::Contains("forever"));
}

TEST_CASE("cli: labels --format json against token-required IMDS: every label right, at most 4 requests", "[cli]") {
  ImdsSim sim({"--mode", "required"});
  auto r = run({binary("kontena-agent"), "labels", "--format", "json"}, sim.env());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto labels = nlohmann::json::parse(r.out);
  CHECK(labels == nlohmann::json{{"region", "us-east-1"},
                                 {"az", "a"},
                                 {"availability-zone", "us-east-1a"},
                                 {"az-id", "use1-az4"},
                                 {"instance-type", "m4.xlarge"},
                                 {"instance-id", "i-1234567890abcdef0"},
                                 {"lifecycle", "on-demand"},
                                 {"provider", "aws"},
                                 {"ephemeral", "true"}});
  CHECK(sim.requests().size() <= 4);
}

TEST_CASE("cli: labels --format text and env", "[cli]") {
  ImdsSim sim({"--scenario", "local-zone"});
  auto env = sim.env();
  env.set["KONTENA_NODE_LABELS"] = "team=x, az=custom";
  auto text = run({binary("kontena-agent"), "labels"}, env);
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::StartsWith("region=us-west-2\naz=custom\navailability-zone=us-west-2-lax-1a\n"));
  CHECK_THAT(text.out, Catch::Contains("\nteam=x\n"));
  CHECK_THAT(text.err, Catch::Contains("user label az=custom overrides derived value 'lax-1a'"));
  auto envfmt = run({binary("kontena-agent"), "labels", "--format", "env", "--ephemeral=false"}, env);
  REQUIRE(envfmt.exit_code == 0);
  CHECK(envfmt.out ==
        "KONTENA_NODE_LABELS=\"region=us-west-2 az=custom availability-zone=us-west-2-lax-1a az-id=usw2-lax1-az1 "
        "instance-type=m4.xlarge instance-id=i-1234567890abcdef0 lifecycle=on-demand provider=aws team=x\"\n");
}

TEST_CASE("cli: IMDS disabled (403) exits 69 within a second with one line naming the cause", "[cli]") {
  ImdsSim sim({"--mode", "disabled"});
  auto r = run({binary("kontena-agent"), "labels"}, sim.env());
  CHECK(r.exit_code == 69);
  CHECK(r.elapsed < 1s);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::StartsWith("error: failed to get an IMDSv2 token") && Catch::Contains("disabled"));
}

TEST_CASE("cli: hop-limit mode exits 69 naming the hop limit and the fix", "[cli]") {
  ImdsSim sim({"--mode", "required", "--hop-limit"});
  auto r = run({binary("kontena-agent"), "labels"}, sim.env());
  CHECK(r.exit_code == 69);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("hop limit") && Catch::Contains("--http-put-response-hop-limit 2"));
}

TEST_CASE("cli: IMDS refusing connections for 5 s: labels arrive as soon as it answers", "[cli]") {
  ImdsSim sim({"--refuse-seconds", "5"}, false);
  auto r = run({binary("kontena-agent"), "labels", "--format", "json"}, sim.env());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["az"] == "a");
  CHECK(r.elapsed >= 4500ms);
  CHECK(r.elapsed < 8s);  // backoff is capped at 1 s: no long sleep after IMDS is back
}

TEST_CASE("cli: IMDS unreachable past the deadline exits 69 with the cause", "[cli]") {
  ImdsSim sim({"--refuse-seconds", "30"}, false);
  auto env = sim.env();
  env.set["KONTENA_IMDS_DEADLINE"] = "2s";
  auto r = run({binary("kontena-agent"), "labels"}, env);
  CHECK(r.exit_code == 69);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("within 2 s") && Catch::Contains(sim.endpoint()));
}

TEST_CASE("cli: AWS_EC2_METADATA_DISABLED gives the static labels without any request", "[cli]") {
  auto env = offline_env();
  env.set["KONTENA_NODE_LABELS"] = "role=test";
  auto r = run({binary("kontena-agent"), "labels"}, env);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ephemeral=true\nrole=test\n");
}

TEST_CASE("cli: a reserved label prefix in KONTENA_NODE_LABELS exits 78 with the fix", "[cli]") {
  auto env = offline_env();
  env.set["KONTENA_NODE_LABELS"] = "com.docker.foo=1";
  auto r = run({binary("kontena-agent"), "labels"}, env);
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("reserved by Docker") && Catch::Contains("KONTENA_NODE_LABELS"));
}

TEST_CASE("cli: --print-config shows sources and masks the token", "[cli][secrets]") {
  auto env = offline_env();
  env.set["KONTENA_TOKEN"] = "grid-token-must-not-leak";
  auto r = run({binary("kontena-agent"), "--print-config", "--log-level", "debug"}, env);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out + r.err, !Catch::Contains("grid-token-must-not-leak"));
  CHECK_THAT(r.out, Catch::Contains("log-level = debug    # flag: --log-level") &&
                        Catch::Contains("imds-disabled = true    # env: AWS_EC2_METADATA_DISABLED") &&
                        Catch::Contains("token = ********"));
}

TEST_CASE("cli: settings come from the config file below env and flags", "[cli]") {
  kn::test::TempDir dir;
  std::ofstream(dir / "agent.yml") << "node-labels: [from=file]\nephemeral: false\n";
  auto env = offline_env();
  env.set["KONTENA_CONFIG"] = (dir / "agent.yml").string();
  auto r = run({binary("kontena-agent"), "labels"}, env);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "from=file\n");
  env.set["KONTENA_NODE_LABELS"] = "from=env";
  r = run({binary("kontena-agent"), "labels", "--ephemeral"}, env);
  CHECK(r.out == "ephemeral=true\nfrom=env\n");
}

TEST_CASE("docs: the README's settings tables match the option table", "[docs]") {
  const auto readme = kn::test::read_text(std::string(KN_SOURCE_DIR) + "/README.md");
  INFO("regenerate with: build/bin/kontena-agent --print-settings-table");
  CHECK_THAT(readme, Catch::Contains(kn::config::markdown_table()));
}

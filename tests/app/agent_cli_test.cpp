// kontena-agent as users run it: a real process against the IMDS simulator.
#include "core/settings.hpp"
#include "support/catch_result.hpp"
#include "support/imds_sim.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
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

TEST_CASE("run: KONTENA_VERSION=latest exits 78 naming the setting, before any connection", "[cli]") {
  // A real master only logs a version it cannot parse and leaves the socket silent: refused here.
  for (const auto* bad : {"latest", "1.5.4.rc1-x", "v1.5"}) {
    auto env = offline_env();
    env.set["KONTENA_VERSION"] = bad;
    env.set["KONTENA_URL"] = "ws://127.0.0.1:9/";  // never dialled
    env.set["KONTENA_STATE_DIR"] = "/nonexistent/kontena-test-state";  // never written: the check comes first
    env.set["KONTENA_TOKEN"] = "grid-token";
    auto r = run({binary("kontena-agent"), "run"}, env);
    CHECK(r.exit_code == 78);
    CHECK(line_count(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("KONTENA_VERSION") && Catch::Contains("1.5.4"));
  }
}

TEST_CASE("cli: labels --format json against token-required IMDS: every label right, 4 requests, 3 of them at once",
          "[cli]") {
  // Both write styles of the simulator: two writes per answer (its default, the case where
  // GETs on a kept-alive connection wait for delayed ACKs) and one.
  const bool single_write = GENERATE(false, true);
  std::vector<std::string> args{"--mode", "required"};
  if (single_write) args.emplace_back("--single-write");
  ImdsSim sim(args);
  sim.configure({{"gather", 3}});  // each GET held until three are in flight at once
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
  // The token PUT, then the identity document, zone id and life cycle together.
  const auto log = sim.requests();
  INFO(log.dump());
  REQUIRE(log.size() == 4);
  CHECK(log[0]["method"] == "PUT");
  int most_in_flight = 0;
  for (const auto& q : log) most_in_flight = std::max(most_in_flight, q["in_flight"].get<int>());
  CHECK(most_in_flight == 3);
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

TEST_CASE("cli: IMDS disabled (403) exits 69 at once with one line naming the cause", "[cli]") {
  ImdsSim sim({"--mode", "disabled"});
  auto r = run({binary("kontena-agent"), "labels"}, sim.env());
  CHECK(r.exit_code == 69);
  // At once: a 403 is final, so the token is asked for exactly once (no retries).
  const auto requests = sim.requests();
  CHECK(std::count_if(requests.begin(), requests.end(), [](const nlohmann::json& q) { return q["method"] == "PUT"; }) == 1);
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

TEST_CASE("cli: a wrong YAML type in agent.yml exits 78 naming the file, the key and the line", "[cli][config]") {
  kn::test::TempDir dir;
  const auto file = (dir / "agent.yml").string();
  std::ofstream(file) << "ephemeral: true\nnode-labels: [{a: 1}]\n";
  auto env = offline_env();
  env.set["KONTENA_CONFIG"] = file;
  auto r = run({binary("kontena-agent"), "labels"}, env);
  CHECK(r.exit_code == 78);
  CHECK(line_count(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains(file + ":2: setting 'node-labels'"));
}

TEST_CASE("cli: --log-level DEBUG (any case) logs debug lines", "[cli]") {
  ImdsSim sim;
  auto r = run({binary("kontena-agent"), "labels", "--log-level", "DEBUG"}, sim.env());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("debug imds: GET "));
  auto quiet = run({binary("kontena-agent"), "labels"}, sim.env());
  CHECK_THAT(quiet.err, !Catch::Contains("GET "));
}

TEST_CASE("run: SIGTERM while IMDS refuses connections at start exits 0 within 1 s", "[cli]") {
  ImdsSim sim({"--refuse-seconds", "60"}, false);
  kn::test::TempDir dir;
  auto env = sim.env();
  env.set["KONTENA_URL"] = "ws://127.0.0.1:9/";  // never reached: the agent stops before the master link
  env.set["KONTENA_STATE_DIR"] = (dir / "state").string();
  env.set["KONTENA_TOKEN"] = "grid-token";
  env.set["KONTENA_LOG_LEVEL"] = "debug";
  kn::test::Process agent({binary("kontena-agent"), "run"}, env, dir / "out", dir / "err");
  // The agent is inside the IMDS retries once it logs a refused attempt.
  REQUIRE(kn::test::wait_until([&] { return kn::test::read_text(dir / "err").find("retrying in") != std::string::npos; },
                               10s));
  agent.signal(SIGTERM);
  const auto code = agent.wait_for(1s);
  INFO(kn::test::read_text(dir / "err"));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("docs: the README's settings tables match the option table", "[docs]") {
  const auto readme = kn::test::read_text(std::string(KN_SOURCE_DIR) + "/README.md");
  INFO("regenerate with: build/bin/kontena-agent --print-settings-table");
  CHECK_THAT(readme, Catch::Contains(kn::config::markdown_table()));
}

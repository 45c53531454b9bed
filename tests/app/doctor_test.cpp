// `kontena-agent doctor` against the project's peers on loopback: the IMDS simulator, the
// master simulator and a real dockerd on a private socket. The doctor changes nothing and
// says, one line per check, what is wrong and how to fix it.
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/imds_sim.hpp"
#include "support/master_sim.hpp"

using namespace kn::test;

namespace {

bool mentions_secret(const RunResult& r, const std::string& secret) {
  return r.out.find(secret) != std::string::npos || r.err.find(secret) != std::string::npos;
}

}  // namespace

TEST_CASE("doctor: with IMDS up but no Docker engine and no master URL it exits 1 naming each fix") {
  ImdsSim imds({"--mode", "required"});
  TempDir dir;
  auto env = imds.env();
  env.set["DOCKER_HOST"] = "unix://" + (dir / "no-docker.sock").string();
  env.set["KONTENA_DOCKER_CONFIG"] = (dir / "daemon.json").string();
  env.unset.insert(env.unset.end(), {"KONTENA_URL", "KONTENA_URI", "KONTENA_TOKEN"});
  auto r = run({binary("kontena-agent"), "doctor"}, env);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("ok    imds: IMDSv2 token from " + imds.endpoint()));
  CHECK_THAT(r.out, Catch::Contains("availability-zone=") && Catch::Contains("ephemeral=true"));
  CHECK_THAT(r.out, Catch::Contains("FAIL  docker:") && Catch::Contains("no-docker.sock"));
  CHECK_THAT(r.out, Catch::Contains("FAIL  master: no master URL; set KONTENA_URL"));
  CHECK_THAT(r.out, Catch::EndsWith("problem(s) found\n"));
  // The doctor changes nothing.
  CHECK_FALSE(std::filesystem::exists(dir / "daemon.json"));
}

TEST_CASE("doctor: IMDS hop-limit mode is a FAIL line naming the hop limit") {
  ImdsSim imds({"--mode", "required", "--hop-limit"});
  TempDir dir;
  auto env = imds.env();
  env.set["DOCKER_HOST"] = "unix://" + (dir / "no-docker.sock").string();
  env.set["KONTENA_IMDS_DEADLINE"] = "3s";
  auto r = run({binary("kontena-agent"), "doctor"}, env);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("FAIL  imds:") && Catch::Contains("hop limit"));
}

TEST_CASE("doctor: a healthy node (labels applied, master reachable) passes every check and never shows the token") {
  REQUIRE_DOCKERD();
  ImdsSim imds;
  Dockerd dockerd;
  MasterSim master;
  const auto env = merge(merge(imds.env(), dockerd.env()), master.env());

  auto before = run({binary("kontena-agent"), "doctor"}, env);
  INFO(before.out << before.err);
  CHECK(before.exit_code == 1);
  CHECK_THAT(before.out, Catch::Contains("FAIL  docker: engine lacks") &&
                             Catch::Contains("fix: kontena-agent labels --apply"));

  auto apply = run({binary("kontena-agent"), "labels", "--apply"}, env);
  REQUIRE(apply.exit_code == 0);

  auto after = run({binary("kontena-agent"), "doctor"}, env);
  INFO(after.out << after.err);
  CHECK(after.exit_code == 0);
  CHECK_THAT(after.out, Catch::Contains("ok    docker: engine carries every node label"));
  CHECK_THAT(after.out, Catch::Contains("ok    master: grid token from"));
  CHECK_THAT(after.out, Catch::Contains("ok    master: " + master.ws_url() + " accepts connections"));
  CHECK_THAT(after.out, Catch::EndsWith("no problems found\n"));
  CHECK_FALSE(mentions_secret(after, master.grid_token()));
  CHECK_FALSE(mentions_secret(before, master.grid_token()));
}

TEST_CASE("doctor: a wss master is checked with a TLS handshake - an unknown CA is a FAIL line with the fix") {
  ImdsSim imds;
  MasterSim master(MasterSimOptions{.tls = true});
  TempDir dir;
  auto env = merge(imds.env(), master.env());  // SSL_CERT_FILE: the CA that signed the master
  env.set["DOCKER_HOST"] = "unix://" + (dir / "no-docker.sock").string();

  auto good = run({binary("kontena-agent"), "doctor"}, env);
  INFO(good.out << good.err);
  CHECK_THAT(good.out, Catch::Contains("ok    master: " + master.ws_url() +
                                       " completes a TLS handshake with a verified certificate"));

  const auto other = make_tls_files(dir.path());
  env.set["SSL_CERT_FILE"] = other.ca_cert.string();
  auto bad = run({binary("kontena-agent"), "doctor"}, env);
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.out, Catch::Contains("FAIL  master: failed to connect to " + master.ws_url()) &&
                          Catch::Contains("TLS certificate verification failed") &&
                          Catch::Contains("SSL_CERT_FILE"));
  CHECK_FALSE(mentions_secret(bad, master.grid_token()));
  // Nothing connected: the doctor never sends the token.
  CHECK(master.nodes().empty());
}

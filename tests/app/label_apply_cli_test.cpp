// `kontena-agent labels --apply` end to end: the real binary, the IMDS simulator and a real
// dockerd on a private socket.
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/imds_sim.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <set>
#include <sys/stat.h>

using kn::test::binary;
using kn::test::Dockerd;
using kn::test::Env;
using kn::test::ImdsSim;
using kn::test::merge;
using kn::test::read_text;
using kn::test::run;

namespace {

// The labels `kontena-agent labels` derives from the simulator, as "key=value" lines.
std::set<std::string> derived_labels(const Env& env) {
  auto r = run({binary("kontena-agent"), "labels"}, env);
  REQUIRE(r.exit_code == 0);
  std::set<std::string> out;
  std::string_view rest = r.out;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    if (nl > 0) out.emplace(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  REQUIRE(out.size() >= 3);
  return out;
}

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

struct timespec mtime_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mtim;
}

std::size_t reload_count(const Dockerd& d) {
  const auto log = d.log();
  std::size_t n = 0;
  for (auto pos = log.find("Got signal to reload"); pos != std::string::npos; pos = log.find("Got signal to reload", pos + 1)) ++n;
  return n;
}


}  // namespace

TEST_CASE("labels --apply puts every derived label on dockerd without restarting it and a second run changes nothing") {
  REQUIRE_DOCKERD();
  ImdsSim imds;
  Dockerd dockerd;
  const auto env = merge(imds.env(), dockerd.env());
  const auto wanted = derived_labels(env);
  const pid_t pid_before = dockerd.pid();
  const auto pidfile_before = read_text(dockerd.pidfile());

  auto first = run({binary("kontena-agent"), "labels", "--apply"}, env);
  INFO(first.err << "\ndockerd log:\n" << dockerd.log());
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Catch::Contains("labels applied") && Catch::Contains("SIGHUP"));
  CHECK(as_set(dockerd.labels()) == wanted);
  // Same process: reloaded, not restarted.
  CHECK(dockerd.pid() == pid_before);
  CHECK(read_text(dockerd.pidfile()) == pidfile_before);
  CHECK(::kill(pid_before, 0) == 0);
  CHECK(reload_count(dockerd) == 1);
  WARN("first labels --apply (derive, write, SIGHUP, verify) took " << first.elapsed.count() << " ms");
  // The fixture's own key stays where it was.
  CHECK(nlohmann::json::parse(read_text(dockerd.config_file())).contains("deprecated-key-path"));

  const auto mtime = mtime_of(dockerd.config_file());
  const auto bytes = read_text(dockerd.config_file());
  auto second = run({binary("kontena-agent"), "labels", "--apply"}, env);
  INFO(second.err);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::Contains("already applied"));
  const auto mtime_after = mtime_of(dockerd.config_file());
  CHECK(mtime_after.tv_sec == mtime.tv_sec);
  CHECK(mtime_after.tv_nsec == mtime.tv_nsec);
  CHECK(read_text(dockerd.config_file()) == bytes);
  CHECK(reload_count(dockerd) == 1);
  CHECK(dockerd.pid() == pid_before);
  WARN("second labels --apply (derive, compare, nothing to do) took " << second.elapsed.count() << " ms");
}

TEST_CASE("labels --apply keeps other daemon.json keys and foreign labels") {
  REQUIRE_DOCKERD();
  ImdsSim imds;
  // The fixture dir is known only after start, so the key path goes to a dir of our own.
  kn::test::TempDir keys;
  Dockerd dockerd({.daemon_json = Dockerd::config_with_key_path(
                       nlohmann::ordered_json::parse(R"({"log-driver":"json-file","labels":["team=x"]})"), keys.path())});
  REQUIRE(dockerd.labels() == std::vector<std::string>{"team=x"});
  const auto env = merge(imds.env(), dockerd.env());
  auto wanted = derived_labels(env);

  auto r = run({binary("kontena-agent"), "labels", "--apply"}, env);
  INFO(r.err << "\ndockerd log:\n" << dockerd.log());
  REQUIRE(r.exit_code == 0);
  const auto doc = nlohmann::ordered_json::parse(read_text(dockerd.config_file()));
  CHECK(doc["log-driver"] == "json-file");
  CHECK(doc.begin().key() == "log-driver");
  const auto file_labels = doc["labels"].get<std::vector<std::string>>();
  CHECK(file_labels.front() == "team=x");
  wanted.insert("team=x");
  CHECK(as_set(file_labels) == wanted);
  CHECK(as_set(dockerd.labels()) == wanted);
}

TEST_CASE("a malformed daemon.json gives exit 78 with the file and position and is left byte for byte") {
  ImdsSim imds;
  kn::test::TempDir dir;
  const auto file = dir / "daemon.json";
  const std::string bytes = "{\n  \"log-driver\": \"json-file\",\n  \"labels\": [\"team=x\",]\n}\n";
  std::ofstream(file) << bytes;
  auto env = imds.env();
  env.set["KONTENA_DOCKER_CONFIG"] = file.string();
  env.set["DOCKER_HOST"] = "unix://" + (dir / "no-dockerd.sock").string();
  env.set["KONTENA_DOCKER_PIDFILE"] = (dir / "none.pid").string();
  auto r = run({binary("kontena-agent"), "labels", "--apply"}, env);
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains(file.string()) && Catch::Contains("line 3, column"));
  CHECK(read_text(file) == bytes);
}

TEST_CASE("a label with a reserved prefix is refused before anything is written") {
  ImdsSim imds;
  kn::test::TempDir dir;
  const auto file = dir / "docker" / "daemon.json";
  auto env = imds.env();
  env.set["KONTENA_DOCKER_CONFIG"] = file.string();
  env.set["DOCKER_HOST"] = "unix://" + (dir / "no-dockerd.sock").string();
  env.set["KONTENA_NODE_LABELS"] = "com.docker.team=x";
  auto r = run({binary("kontena-agent"), "labels", "--apply"}, env);
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("com.docker.") && Catch::Contains("reserved") && Catch::Contains("choose another key"));
  CHECK_FALSE(std::filesystem::exists(file));
}

TEST_CASE("a dockerd started with a label flag is refused before anything is written with the fix") {
  REQUIRE_DOCKERD();
  ImdsSim imds;
  Dockerd dockerd({.extra_args = {"--label", "team=x"}});
  const auto bytes = read_text(dockerd.config_file());
  auto r = run({binary("kontena-agent"), "labels", "--apply"}, merge(imds.env(), dockerd.env()));
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("--label team=x") && Catch::Contains("command line") &&
                        Catch::Contains("remove the --label flags") && Catch::Contains("KONTENA_NODE_LABELS"));
  CHECK(read_text(dockerd.config_file()) == bytes);
  CHECK(dockerd.labels() == std::vector<std::string>{"team=x"});
}

TEST_CASE("a missing daemon.json and directory are created when dockerd is not running (exit 69 not verified)") {
  ImdsSim imds;
  kn::test::TempDir dir;
  const auto file = dir / "etc" / "docker" / "daemon.json";
  auto env = imds.env();
  env.set["KONTENA_DOCKER_CONFIG"] = file.string();
  env.set["DOCKER_HOST"] = "unix://" + (dir / "no-dockerd.sock").string();
  env.set["KONTENA_DOCKER_PIDFILE"] = (dir / "none.pid").string();
  auto r = run({binary("kontena-agent"), "labels", "--apply"}, env);
  CHECK(r.exit_code == 69);
  CHECK_THAT(r.err, Catch::Contains("no-dockerd.sock") && Catch::Contains("apply when dockerd starts"));
  REQUIRE(std::filesystem::exists(file));
  const auto doc = nlohmann::json::parse(read_text(file));
  CHECK(as_set(doc["labels"].get<std::vector<std::string>>()) == derived_labels(imds.env()));
}

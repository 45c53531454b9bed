// apply_labels and keep_labels as a library, against a real dockerd where one is needed.
#include "docker/label_applier.hpp"
#include "docker/label_keeper.hpp"
#include "docker/reloader.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

using namespace kn::docker;
using kn::LabelSet;
using kn::test::Dockerd;
using kn::test::read_text;

namespace {

const LabelSet kWanted = LabelSet::parse(std::vector<std::string>{"region=eu-central-1", "az=a", "ephemeral=true"}).value();

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

ApplyOptions options_for(const Dockerd& d) {
  ApplyOptions o;
  o.daemon_json = d.config_file();
  o.docker_host = d.docker_host();
  o.pidfile = d.pidfile();
  o.verify_deadline = std::chrono::seconds(10);
  return o;
}


}  // namespace

TEST_CASE("without reload (boot before dockerd) only the file under the root is written") {
  kn::test::TempDir root;
  ApplyOptions o;
  o.root = root.path();
  o.reload = false;
  o.docker_host = "unix://" + (root / "none.sock").string();
  auto report = apply_labels(kWanted, o);
  REQUIRE(report);
  CHECK(report->file == root / "etc/docker/daemon.json");
  CHECK(report->file_changed);
  CHECK_FALSE(report->reloaded);
  CHECK(as_set(nlohmann::json::parse(read_text(report->file))["labels"].get<std::vector<std::string>>()) ==
        as_set(kWanted.strings()));
  auto again = apply_labels(kWanted, o);
  REQUIRE(again);
  CHECK_FALSE(again->file_changed);
  CHECK_THAT(again->summary, Catch::Contains("nothing written"));
}

TEST_CASE("an existing file's mode is kept when it is rewritten") {
  kn::test::TempDir root;
  const auto file = root / "etc/docker/daemon.json";
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << "{\"debug\":false}";
  std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ApplyOptions o;
  o.root = root.path();
  o.reload = false;
  REQUIRE(apply_labels(kWanted, o));
  CHECK(std::filesystem::status(file).permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
}

TEST_CASE("a label flag in DOCKER_OPTS of a docker.service drop-in is refused before writing") {
  kn::test::TempDir root;
  const auto dropin = root / "etc/systemd/system/docker.service.d/50-opts.conf";
  std::filesystem::create_directories(dropin.parent_path());
  std::ofstream(dropin) << "[Service]\nEnvironment=\"DOCKER_OPTS=--label team=x\"\n";
  ApplyOptions o;
  o.root = root.path();
  o.reload = false;
  auto report = apply_labels(kWanted, o);
  REQUIRE_FALSE(report);
  CHECK(report.error().exit_code() == 78);
  CHECK_THAT(report.error().message, Catch::Contains("50-opts.conf line 2") && Catch::Contains("remove the --label flags"));
  CHECK_FALSE(std::filesystem::exists(root / "etc/docker/daemon.json"));
}

TEST_CASE("a pid file that is missing or names another process is never signalled") {
  kn::test::TempDir dir;
  CHECK(dockerd_pid(dir / "none.pid").error().is(kn::Errc::docker_reload_failed));
  std::ofstream(dir / "self.pid") << ::getpid() << "\n";
  auto r = dockerd_pid(dir / "self.pid");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("not dockerd"));
  std::ofstream(dir / "junk.pid") << "abc";
  CHECK_FALSE(dockerd_pid(dir / "junk.pid"));
}

TEST_CASE("a reload dockerd rejects is reported with the labels seen and where to look") {
  REQUIRE_DOCKERD();
  Dockerd dockerd;
  // dockerd refuses unknown keys: the reload fails and dockerd keeps its old configuration
  // (an empty label set), as with an unreadable file or a conflicting flag on a real host.
  auto doc = nlohmann::ordered_json::parse(read_text(dockerd.config_file()));
  doc["no-such-option"] = true;
  std::ofstream(dockerd.config_file()) << doc.dump(2);
  auto o = options_for(dockerd);
  o.verify_deadline = std::chrono::milliseconds(1500);
  auto report = apply_labels(kWanted, o);
  REQUIRE_FALSE(report);
  CHECK(report.error().is(kn::Errc::docker_reload_failed));
  CHECK(report.error().exit_code() == 69);
  CHECK_THAT(report.error().message, Catch::Contains("still shows []") && Catch::Contains("journalctl -u docker") &&
                                         Catch::Contains("also given as a dockerd flag"));
  CHECK_THAT(dockerd.log(), Catch::Contains("no-such-option"));
}

TEST_CASE("a daemon.json key that dockerd also has as a flag is refused before writing") {
  REQUIRE_DOCKERD();
  Dockerd dockerd;
  // storage-driver is a flag of the fixture's dockerd (as hosts/containerd are on Flatcar).
  auto doc = nlohmann::ordered_json::parse(read_text(dockerd.config_file()));
  doc["storage-driver"] = "vfs";
  std::ofstream(dockerd.config_file()) << doc.dump(2);
  const auto bytes = read_text(dockerd.config_file());
  auto report = apply_labels(kWanted, options_for(dockerd));
  REQUIRE_FALSE(report);
  CHECK(report.error().exit_code() == 78);
  CHECK_THAT(report.error().message, Catch::Contains("\"storage-driver\"") && Catch::Contains("nothing was written") &&
                                         Catch::Contains("Fix:"));
  CHECK(read_text(dockerd.config_file()) == bytes);
  CHECK_THAT(dockerd.log(), !Catch::Contains("Got signal to reload"));
}

TEST_CASE("keep_labels repairs drift: labels changed behind the agent's back come back") {
  REQUIRE_DOCKERD();
  Dockerd dockerd;
  const auto o = options_for(dockerd);
  std::mutex mutex;
  std::vector<ApplyReport> reports;
  std::vector<std::string> failures;
  std::jthread keeper([&](std::stop_token stop) {
    keep_labels(stop, kWanted, o, std::chrono::milliseconds(200), [&](const kn::Result<ApplyReport>& r) {
      std::lock_guard lock(mutex);
      if (r) reports.push_back(*r); else failures.push_back(r.error().message);
    });
  });
  auto wait_for = [&](auto&& pred) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
      {
        std::lock_guard lock(mutex);
        if (pred()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  REQUIRE(wait_for([&] { return !reports.empty() && reports.front().verified; }));
  CHECK(as_set(dockerd.labels()) == as_set(kWanted.strings()));

  // Someone edits daemon.json and reloads dockerd: az is now wrong on the engine. (The
  // keeper may see the file before the engine has reloaded it; either way it must rewrite
  // the file, and the engine must end with the wanted labels.)
  auto doc = nlohmann::ordered_json::parse(read_text(dockerd.config_file()));
  doc["labels"] = {"az=z", "region=eu-central-1", "ephemeral=true"};
  std::ofstream(dockerd.config_file()) << doc.dump(2);
  ::kill(dockerd.pid(), SIGHUP);
  std::size_t seen = 0;
  {
    std::lock_guard lock(mutex);
    seen = reports.size();
  }
  REQUIRE(wait_for([&] {
    return std::any_of(reports.begin() + static_cast<std::ptrdiff_t>(seen), reports.end(),
                       [](const ApplyReport& r) { return r.file_changed && r.verified; });
  }));
  keeper.request_stop();
  keeper.join();
  CHECK(as_set(dockerd.labels()) == as_set(kWanted.strings()));
  CHECK(failures.empty());
}

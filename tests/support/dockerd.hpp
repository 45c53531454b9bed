// A real dockerd (Debian docker.io) for tests: private socket, config file, data root, exec
// root and pidfile in a fresh directory under /tmp (short: unix socket paths hold 107 bytes),
// no bridge and no iptables changes, the vfs storage driver. It starts its own containerd.
// The destructor stops both and removes the directory (unmounting what they left mounted).
// With `own_bridge` it first creates a bridge of its own (kntbrN, 10.213.N.1/24) for the
// default network, so containers get addresses; the destructor deletes that bridge.
#pragma once

#include "support/process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kn::test {

struct DockerdOptions {
  // Initial daemon.json content. Tests that set it should keep kDockerdKeyPathSetting in it
  // (see config_with_key_path) so dockerd does not write /etc/docker/key.json on the host.
  std::optional<std::string> daemon_json;
  std::vector<std::string> extra_args;  // e.g. {"--label", "team=x"}
  bool wait_until_ready = true;
  // Create a test-owned bridge kntbrN with 10.213.N.1/24 (N: the first free of 0..63) and start
  // dockerd with --bridge=kntbrN --ip-forward=false (and still no iptables), instead of
  // --bridge=none. Nothing else on the host is touched.
  bool own_bridge = false;
};

class Dockerd {
 public:
  explicit Dockerd(DockerdOptions options = {});
  ~Dockerd();
  Dockerd(const Dockerd&) = delete;
  Dockerd& operator=(const Dockerd&) = delete;

  // True when /usr/sbin/dockerd exists and we are root (tests fail otherwise, naming the fix).
  static bool available();
  // `doc` plus "deprecated-key-path" pointing into `dir` (dockerd 20.10 otherwise creates
  // /etc/docker/key.json; the key has no flag, only this file setting).
  static std::string config_with_key_path(nlohmann::ordered_json doc, const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path socket() const { return dir_ / "d.sock"; }
  std::string docker_host() const { return "unix://" + socket().string(); }
  std::filesystem::path config_file() const { return dir_ / "daemon.json"; }
  std::filesystem::path pidfile() const { return dir_ / "d.pid"; }
  pid_t pid() const;
  std::string log() const;
  // GET /info through curl-over-unix-socket, for assertions independent of the code under test.
  nlohmann::json info() const;
  std::vector<std::string> labels() const;
  // Time from exec to the first successful /_ping.
  std::chrono::milliseconds start_time() const { return start_time_; }

  // Stops dockerd (SIGTERM: its containers stop too) and starts it again on the same socket,
  // data root and bridge; returns once it answers /_ping.
  void restart();
  // SIGKILL to dockerd, as a crash or the OOM killer ends it; its containerd is killed too,
  // since a later restart() would otherwise adopt the orphaned one. Returns once dockerd is
  // reaped (its socket no longer answers); restart() brings it back.
  void kill();

  // Environment for a child `kontena-agent` pointed at this dockerd.
  Env env() const;

  // With own_bridge: its name ("kntbr3") and gateway address ("10.213.3.1"); empty otherwise.
  const std::string& bridge() const { return bridge_; }
  const std::string& bridge_gateway() const { return gateway_; }

 private:
  void stop();
  void stop_process();
  void launch(bool wait_until_ready);
  std::vector<std::string> argv_;
  void create_bridge();
  void delete_bridge();
  std::filesystem::path dir_;
  std::string bridge_;
  std::string gateway_;
  std::unique_ptr<Process> process_;
  std::chrono::milliseconds start_time_{0};
};

}  // namespace kn::test

// The one "no dockerd here" check of the dockerd-backed tests: they fail (never pass
// silently) and name the fix. Use as the first statement of a TEST_CASE.
#define REQUIRE_DOCKERD()                                                                            \
  if (!::kn::test::Dockerd::available()) {                                                           \
    FAIL("needs root and /usr/sbin/dockerd (Debian docker.io): run scripts/install-deps.sh as root"); \
    return;                                                                                          \
  }

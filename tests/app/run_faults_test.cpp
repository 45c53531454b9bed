// Docker, disk and signal faults of docs/fault-matrix.md, with the real binaries: a private
// dockerd that is stopped, killed and brought back under a running `kontena-agent run`; a
// daemon.json that is a symlink; size-limited or read-only tmpfs mounts (made and removed by
// the test, as root) under `kontena-bootstrap apply --root`; and SIGTERM, SIGINT and SIGHUP
// in each phase of `run`. Each case prints what it measured (WARN), which the matrix quotes.
#include "support/agent_process.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/imds_sim.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;
using namespace kn::test;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::ranges::find(v, s) != v.end(); }

// True when something accepts connections on the unix socket `path`.
bool socket_answers(const fs::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::vector<std::string> engine_labels(const Dockerd& d) {
  try {
    return d.labels();
  } catch (const std::exception&) {
    return {};
  }
}

// A mount made by the test, removed (lazily, so a failing test cannot leave it busy) on exit.
class TmpfsMount {
 public:
  TmpfsMount(fs::path target, std::string size) : target_(std::move(target)), size_(std::move(size)) {
    fs::create_directories(target_);
    if (::mount("tmpfs", target_.c_str(), "tmpfs", 0, ("size=" + size_ + ",mode=0755").c_str()) != 0) {
      throw std::runtime_error("failed to mount a tmpfs on " + target_.string() + ": " + std::strerror(errno) +
                               " (the fault tests run as root)");
    }
  }
  ~TmpfsMount() { ::umount2(target_.c_str(), MNT_DETACH); }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  void set_read_only(bool ro) const {
    const unsigned long flags = ro ? (MS_REMOUNT | MS_RDONLY) : static_cast<unsigned long>(MS_REMOUNT);
    if (::mount(nullptr, target_.c_str(), nullptr, flags, ("size=" + size_).c_str()) != 0) {
      throw std::runtime_error("failed to remount " + target_.string() + ": " + std::strerror(errno));
    }
  }
  // Writes a filler file until the file system is full.
  void fill() const {
    std::ofstream out(target_ / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size())) && out.flush()) {
    }
  }
  void unfill() const { fs::remove(target_ / "filler"); }

 private:
  fs::path target_;
  std::string size_;
};

std::vector<std::string> temp_files_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.starts_with(".")) out.push_back(name);
  }
  return out;
}

// A TCP listener on loopback that takes the agent's connection and never answers its
// upgrade request: the agent stays in "connecting".
class MuteMaster {
 public:
  MuteMaster() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("failed to set up the mute master");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~MuteMaster() {
    for (const int c : accepted_) ::close(c);
    ::close(fd_);
  }
  MuteMaster(const MuteMaster&) = delete;
  MuteMaster& operator=(const MuteMaster&) = delete;
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }
  // Waits for the agent's connection (true) within `timeout`.
  bool accept_one(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    accepted_.push_back(c);
    return true;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> accepted_;
};

// The environment of a `kontena-agent run` in `dir` with Docker absent and IMDS off, unless
// the caller merges in more.
Env agent_env(const TempDir& dir, const std::string& url) {
  Env env;
  env.set["KONTENA_URL"] = url;
  env.set["KONTENA_TOKEN"] = "grid-token-of-the-signal-tests";
  env.set["KONTENA_CONFIG"] = "/dev/null";
  env.set["KONTENA_NODE_NAME"] = "signals";
  env.set["KONTENA_STATE_DIR"] = (dir / "state").string();
  env.set["KONTENA_LOG_LEVEL"] = "debug";
  env.set["KONTENA_RECONNECT_MAX_DELAY"] = "1s";
  env.set["AWS_EC2_METADATA_DISABLED"] = "true";
  env.set["DOCKER_HOST"] = "unix://" + (dir / "no-docker.sock").string();
  env.set["KONTENA_DOCKER_CONFIG"] = (dir / "daemon.json").string();
  env.set["KONTENA_DOCKER_PIDFILE"] = (dir / "docker.pid").string();
  env.unset = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "KONTENA_NODE_ID", "KONTENA_NODE_LABELS", "KONTENA_NODE_TOKEN",
               "KONTENA_NODE_TOKEN_FILE", "KONTENA_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT"};
  return env;
}

const char* signal_name(int sig) { return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP"; }

// Sends `sig` to an agent in `phase`. SIGTERM and SIGINT must end it with exit 0; SIGHUP must
// leave it running (in the event loop it says so in the log), shown by a SIGTERM afterwards
// still giving exit 0: had the hang-up ended it, the exit would be 129.
void check_signal(Process& agent, const fs::path& err, int sig, const std::string& phase, bool in_loop) {
  const std::string sent = sig == SIGHUP ? "SIGHUP (ignored), then SIGTERM" : signal_name(sig);
  if (sig == SIGHUP) {
    agent.signal(SIGHUP);
    if (in_loop) {
      CHECK(wait_until([&] { return read_text(err).find("received SIGHUP; ignored") != std::string::npos; }, 5s));
    }
    CHECK(agent.running());
    sig = SIGTERM;
  }
  const auto start = Clock::now();
  agent.signal(sig);
  const auto code = agent.wait_for(10s);
  const auto elapsed = ms_since(start);
  INFO(read_text(err));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  WARN(phase << ": " << sent << " ended the agent with exit " << code.value_or(-1) << " in " << elapsed
             << " ms");
}

}  // namespace

// --- Docker ------------------------------------------------------------------------------

TEST_CASE("docker faults: dockerd down when run starts: the node joins, and the labels are on the engine once dockerd is back",
          "[faults][docker]") {
  REQUIRE_DOCKERD();
  MasterSim master;
  Dockerd dockerd;
  // A clean stop: dockerd removes its socket, so the agent starts with the socket missing.
  ::kill(dockerd.pid(), SIGTERM);
  REQUIRE(wait_until([&] { return !fs::exists(dockerd.socket()); }, 20s));
  AgentProcess agent(master, &dockerd, {.name = "docker-late", .env = {{"KONTENA_LABEL_CHECK_INTERVAL", "1s"}}});
  REQUIRE(master.wait_for_status("docker-late", "online", 20s));
  CHECK_THAT(agent.log(), Catch::Contains("continuing with the derived labels"));

  dockerd.restart();
  const auto back = Clock::now();
  REQUIRE(wait_until([&] { return contains(engine_labels(dockerd), "ephemeral=true"); }, 20s));
  WARN("dockerd down at start: labels on the engine " << ms_since(back) << " ms after dockerd answers again");
  CHECK(agent.process->running());
  CHECK(master.node("docker-late")["status"] == "online");
  CHECK(agent.terminate() == 0);
}

TEST_CASE("docker faults: dockerd killed (SIGKILL) in the middle of run and back: the node stays online and the labels return",
          "[faults][docker]") {
  REQUIRE_DOCKERD();
  MasterSim master;
  Dockerd dockerd;
  AgentProcess agent(master, &dockerd, {.name = "docker-killed", .env = {{"KONTENA_LABEL_CHECK_INTERVAL", "1s"}}});
  REQUIRE(master.wait_for_status("docker-killed", "online", 20s));
  REQUIRE(wait_until([&] { return contains(engine_labels(dockerd), "ephemeral=true"); }, 20s));

  dockerd.kill();
  REQUIRE_FALSE(socket_answers(dockerd.socket()));
  // Someone resets daemon.json while dockerd is down (a package upgrade): without the agent
  // dockerd would come back without the labels.
  std::ofstream(dockerd.config_file()) << Dockerd::config_with_key_path(nlohmann::ordered_json::object(), dockerd.dir());
  CHECK(agent.process->running());

  dockerd.restart();
  const auto back = Clock::now();
  REQUIRE(wait_until([&] { return contains(engine_labels(dockerd), "ephemeral=true"); }, 20s));
  WARN("dockerd killed mid-run: labels back on the engine " << ms_since(back) << " ms after dockerd answers again");
  CHECK(agent.process->running());
  CHECK(master.node("docker-killed")["status"] == "online");
  CHECK(agent.terminate() == 0);
}

TEST_CASE("docker faults: a daemon.json that is a symlink stays one and the file it names gets the labels",
          "[faults][docker]") {
  REQUIRE_DOCKERD();
  ImdsSim imds;
  Dockerd dockerd;
  // dockerd reads its --config-file through the link, as it would a link into a
  // configuration repository.
  const fs::path real = dockerd.dir() / "conf" / "daemon.json";
  fs::create_directories(real.parent_path());
  fs::rename(dockerd.config_file(), real);
  fs::create_symlink(real, dockerd.config_file());

  auto r = run({binary("kontena-agent"), "labels", "--apply"}, merge(imds.env(), dockerd.env()));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::is_symlink(dockerd.config_file()));
  CHECK(fs::read_symlink(dockerd.config_file()) == real);
  const auto doc = nlohmann::json::parse(read_text(real));
  CHECK(contains(doc.at("labels").get<std::vector<std::string>>(), "az=a"));
  CHECK(contains(dockerd.labels(), "az=a"));
}

// --- Disk --------------------------------------------------------------------------------

TEST_CASE("disk faults: a full or read-only /run or /etc/docker fails naming the file and leaves the previous file intact",
          "[faults][disk]") {
  const std::string where = GENERATE(as<std::string>{}, "run/kontena", "etc/docker");
  const std::string fault = GENERATE(as<std::string>{}, "full", "read-only");
  const fs::path file = where == "run/kontena" ? fs::path("metadata.env") : fs::path("daemon.json");
  INFO(where << " " << fault);
  ImdsSim sim;
  TempDir root;
  TmpfsMount mount(root / where, "64k");
  const std::vector<std::string> argv{binary("kontena-bootstrap"), "apply", "--root", root.path().string()};
  auto first = run(argv, sim.env());
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  const auto before = read_text(root / where / file);
  REQUIRE_FALSE(before.empty());

  if (fault == "full") mount.fill(); else mount.set_read_only(true);
  auto changed = merge(sim.env(), Env{.set = {{"KONTENA_NODE_LABELS", "team=web"}}, .unset = {}});
  auto second = run(argv, changed);
  INFO(second.out << second.err);
  CHECK(second.exit_code == 74);
  CHECK_THAT(second.err, Catch::Contains("failed to write " + (root / where / file).string() + " (left as it was)") &&
                             Catch::Contains(fault == "full" ? "No space left on device" : "Read-only file system"));
  CHECK(read_text(root / where / file) == before);
  CHECK(temp_files_in(root / where).empty());  // no half-written temp file is left behind

  // Recovery: once there is room (or the mount is writable), the next apply writes the change.
  if (fault == "full") mount.unfill(); else mount.set_read_only(false);
  auto third = run(argv, changed);
  INFO(third.out << third.err);
  CHECK(third.exit_code == 0);
  CHECK(read_text(root / where / file).find("team=web") != std::string::npos);
  WARN(where << " " << fault << ": exit " << second.exit_code << " with \"" << second.err.substr(0, second.err.find('\n'))
             << "\"; the next apply after the fault is gone: exit " << third.exit_code);
}

// --- Signals in each phase of run -----------------------------------------------------------

TEST_CASE("signals: starting (IMDS still refusing) - SIGTERM/SIGINT exit 0, SIGHUP is ignored", "[faults][signals]") {
  const int sig = GENERATE(SIGTERM, SIGINT, SIGHUP);
  ImdsSim imds({"--refuse-seconds", "60"}, false);
  TempDir dir;
  auto env = agent_env(dir, "ws://127.0.0.1:9/");
  env.set.erase("AWS_EC2_METADATA_DISABLED");
  std::erase(env.unset, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  env = merge(imds.env(), env);  // the simulator's endpoint, the agent's own settings
  Process agent({binary("kontena-agent"), "run"}, env, {}, dir / "err");
  const bool retrying = wait_until([&] { return read_text(dir / "err").find("retrying in") != std::string::npos; }, 10s);
  INFO(read_text(dir / "err"));
  REQUIRE(retrying);
  check_signal(agent, dir / "err", sig, "starting", false);
}

TEST_CASE("signals: applying labels (dockerd rejected the reload, verification polling) - SIGTERM/SIGINT exit 0, SIGHUP is ignored",
          "[faults][signals]") {
  REQUIRE_DOCKERD();
  const int sig = GENERATE(SIGTERM, SIGINT, SIGHUP);
  Dockerd dockerd;
  auto doc = nlohmann::ordered_json::parse(read_text(dockerd.config_file()));
  doc["no-such-option"] = true;  // dockerd rejects the reload and keeps its old labels
  std::ofstream(dockerd.config_file()) << doc.dump(2);
  TempDir dir;
  auto env = merge(agent_env(dir, "ws://127.0.0.1:9/"), dockerd.env());
  env.set["KONTENA_DOCKER_RELOAD_TIMEOUT"] = "60s";
  Process agent({binary("kontena-agent"), "run"}, env, {}, dir / "err");
  REQUIRE(wait_until([&] { return dockerd.log().find("Got signal to reload") != std::string::npos; }, 15s));
  check_signal(agent, dir / "err", sig, "applying labels", false);
}

TEST_CASE("signals: connecting (the master took the connection and says nothing) - SIGTERM/SIGINT exit 0, SIGHUP is ignored",
          "[faults][signals]") {
  const int sig = GENERATE(SIGTERM, SIGINT, SIGHUP);
  MuteMaster mute;
  TempDir dir;
  Process agent({binary("kontena-agent"), "run"}, agent_env(dir, mute.url()), {}, dir / "err");
  REQUIRE(mute.accept_one(15s));
  check_signal(agent, dir / "err", sig, "connecting", true);
}

TEST_CASE("signals: connected - SIGTERM/SIGINT close the link and exit 0, SIGHUP is ignored and the link stays up",
          "[faults][signals]") {
  const int sig = GENERATE(SIGTERM, SIGINT, SIGHUP);
  MasterSim master;
  TempDir dir;
  auto env = merge(agent_env(dir, master.url()), master.env());
  Process agent({binary("kontena-agent"), "run"}, env, {}, dir / "err");
  REQUIRE(master.wait_for_status("signals", "online", 15s));
  if (sig == SIGHUP) {
    agent.signal(SIGHUP);
    REQUIRE(wait_until([&] { return read_text(dir / "err").find("received SIGHUP; ignored") != std::string::npos; }, 5s));
    CHECK(master.node("signals")["status"] == "online");
    CHECK(master.stats()["handshakes"] == 1);  // the link was not dropped
  }
  check_signal(agent, dir / "err", sig, "connected", true);
  CHECK(wait_until([&] { return master.node("signals")["status"] == "offline"; }, 5s));
}

TEST_CASE("signals: reconnecting (the master went away) - SIGTERM/SIGINT exit 0, SIGHUP is ignored", "[faults][signals]") {
  const int sig = GENERATE(SIGTERM, SIGINT, SIGHUP);
  TempDir dir;
  auto master = std::make_unique<MasterSim>();
  auto env = merge(agent_env(dir, master->url()), master->env());
  Process agent({binary("kontena-agent"), "run"}, env, {}, dir / "err");
  REQUIRE(master->wait_for_status("signals", "online", 15s));
  master->stop();
  REQUIRE(wait_until([&] { return read_text(dir / "err").find("reconnecting in") != std::string::npos; }, 10s));
  check_signal(agent, dir / "err", sig, "reconnecting", true);
}

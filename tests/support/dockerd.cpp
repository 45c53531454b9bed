#include "support/dockerd.hpp"

#include "http/curl_transport.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>

namespace kn::test {
namespace {

constexpr const char* kDockerd = "/usr/sbin/dockerd";
constexpr const char* kIp = "/usr/sbin/ip";
// Test bridges: kntbr0..kntbr63 with 10.213.N.1/24, a private range nothing else here uses.
constexpr int kBridgeSlots = 64;

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// Children of `parent` (containerd and its shims), from /proc/PID/stat field 4.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::ranges::all_of(name, [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

void wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (alive(pid) && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Mount points under `dir` (vfs/containerd may leave some), deepest first.
std::vector<std::string> mounts_under(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  const auto prefix = dir.string() + "/";
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devices, root, mount_point;
    fields >> id >> parent >> devices >> root >> mount_point;
    if (mount_point.starts_with(prefix)) out.push_back(mount_point);
  }
  std::ranges::sort(out, [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

}  // namespace

bool Dockerd::available() { return ::geteuid() == 0 && ::access(kDockerd, X_OK) == 0; }

std::string Dockerd::config_with_key_path(nlohmann::ordered_json doc, const std::filesystem::path& dir) {
  doc["deprecated-key-path"] = (dir / "key.json").string();
  return doc.dump(2) + "\n";
}

Dockerd::Dockerd(DockerdOptions options) {
  std::string tmpl = "/tmp/kd-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  {
    std::ofstream out(config_file());
    out << options.daemon_json.value_or(config_with_key_path(nlohmann::ordered_json::object(), dir_));
  }
  std::vector<std::string> argv{kDockerd,
                                "--host=" + docker_host(),
                                "--config-file=" + config_file().string(),
                                "--data-root=" + (dir_ / "data").string(),
                                "--exec-root=" + (dir_ / "exec").string(),
                                "--pidfile=" + pidfile().string(),
                                "--iptables=false",
                                "--ip6tables=false",
                                "--storage-driver=vfs"};
  if (options.own_bridge) {
    create_bridge();
    // No --ip-forward either: dockerd would otherwise turn on the host's net.ipv4.ip_forward.
    argv.insert(argv.end(), {"--bridge=" + bridge_, "--ip-forward=false", "--ip-masq=false"});
  } else {
    argv.emplace_back("--bridge=none");
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv_ = std::move(argv);
  launch(options.wait_until_ready);
}

void Dockerd::launch(bool wait_until_ready) {
  Env env;
  env.unset = {"DOCKER_HOST", "NOTIFY_SOCKET"};
  const auto start = std::chrono::steady_clock::now();
  process_ = std::make_unique<Process>(argv_, env, dir_ / "stdout", dir_ / "log");  // dockerd logs to stderr
  if (!wait_until_ready) return;
  http::CurlTransport transport;
  const auto end = start + std::chrono::seconds(60);
  for (;;) {
    http::Request req;
    req.url = "http://localhost/_ping";
    req.unix_socket = socket().string();
    if (auto r = transport.perform(req); r && r->status == 200) break;
    if (!process_->running() || std::chrono::steady_clock::now() > end) {
      const auto text = log();
      stop();
      throw std::runtime_error("dockerd did not start: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  start_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

Dockerd::~Dockerd() { stop(); }

void Dockerd::create_bridge() {
  // `ip link add` fails when the name exists, so it is also the claim on a slot between
  // concurrently running tests.
  for (int n = 0; n < kBridgeSlots; ++n) {
    const std::string name = "kntbr" + std::to_string(n);
    if (run({kIp, "link", "add", name, "type", "bridge"}).exit_code != 0) continue;
    bridge_ = name;
    gateway_ = "10.213." + std::to_string(n) + ".1";
    for (const auto& step : std::vector<std::vector<std::string>>{
             {kIp, "addr", "add", gateway_ + "/24", "dev", name}, {kIp, "link", "set", name, "up"}}) {
      if (auto r = run(step); r.exit_code != 0) {
        delete_bridge();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        throw std::runtime_error("failed to set up the test bridge " + name + ": " + r.err);
      }
    }
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  throw std::runtime_error("failed to create a test bridge: kntbr0..kntbr63 all exist (needs root and iproute2)");
}

void Dockerd::delete_bridge() {
  if (bridge_.empty()) return;
  run({kIp, "link", "del", bridge_});
  bridge_.clear();
  gateway_.clear();
}

void Dockerd::restart() {
  stop_process();
  launch(true);
}

void Dockerd::stop() {
  stop_process();
  if (dir_.empty()) return;
  for (const auto& m : mounts_under(dir_)) ::umount2(m.c_str(), MNT_DETACH);
  delete_bridge();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  dir_.clear();
}

void Dockerd::stop_process() {
  if (process_) {
    const pid_t pid = process_->pid();
    const auto children = children_of(pid);
    process_->signal(SIGTERM);
    if (!process_->wait_for(std::chrono::seconds(20))) process_->signal(SIGKILL);
    process_.reset();  // reaps it (SIGKILL to its process group if still there)
    for (const pid_t child : children) {
      if (!alive(child)) continue;
      ::kill(child, SIGTERM);
      wait_gone(child, std::chrono::seconds(5));
      if (alive(child)) ::kill(child, SIGKILL);
    }
  }
}

void Dockerd::kill() {
  if (!process_) return;
  const auto children = children_of(process_->pid());
  process_->signal(SIGKILL);
  (void)process_->wait_for(std::chrono::seconds(10));
  for (const pid_t child : children) {
    ::kill(child, SIGKILL);
    wait_gone(child, std::chrono::seconds(5));
  }
}

pid_t Dockerd::pid() const { return process_ ? process_->pid() : -1; }

std::string Dockerd::log() const { return read_text(dir_ / "log"); }

nlohmann::json Dockerd::info() const {
  http::CurlTransport transport;
  http::Request req;
  req.url = "http://localhost/v1.41/info";
  req.unix_socket = socket().string();
  auto r = transport.perform(req);
  if (!r || r->status != 200) throw std::runtime_error("GET /info failed");
  return nlohmann::json::parse(r->body);
}

std::vector<std::string> Dockerd::labels() const {
  auto doc = info();
  std::vector<std::string> out;
  if (doc["Labels"].is_array()) {
    for (const auto& l : doc["Labels"]) out.push_back(l.get<std::string>());
  }
  return out;
}

Env Dockerd::env() const {
  Env e;
  e.set["DOCKER_HOST"] = docker_host();
  e.set["KONTENA_DOCKER_CONFIG"] = config_file().string();
  e.set["KONTENA_DOCKER_PIDFILE"] = pidfile().string();
  return e;
}

}  // namespace kn::test

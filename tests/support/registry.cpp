#include "support/registry.hpp"

#include "http/curl_transport.hpp"
#include "support/record.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace kn::test {
namespace {

constexpr const char* kRegistry = "/usr/bin/docker-registry";
constexpr const char* kHtpasswd = "/usr/bin/htpasswd";

}  // namespace

std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot find a free loopback port");
  return ntohs(addr.sin_port);
}

bool Registry::available() { return ::access(kRegistry, X_OK) == 0 && ::access(kHtpasswd, X_OK) == 0; }

Registry::Registry(RegistryOptions options) {
  // Configuration reference: https://distribution.github.io/distribution/about/configuration/
  std::string auth;
  if (!options.username.empty()) {
    record_secret(options.password);
    // -C 4: the lowest bcrypt cost keeps each authenticated request fast in tests. -i reads
    // the password from stdin (a 0600 file here), so it is in no process's argv.
    const auto secret = dir_ / "password";
    write_private_file(secret, options.password + "\n");
    auto made = run({"/bin/sh", "-c", std::string(kHtpasswd) + " -iBn -C 4 \"$1\" < \"$2\"", "htpasswd",
                     options.username, secret.string()});
    std::filesystem::remove(secret);
    if (made.exit_code != 0) throw std::runtime_error("htpasswd failed: " + made.err);
    std::ofstream(dir_ / "htpasswd") << made.out;
    auth = "auth:\n  htpasswd:\n    realm: kn-test\n    path: " + (dir_ / "htpasswd").string() + "\n";
  }
  for (int attempt = 0;; ++attempt) {
    port_ = free_loopback_port();
    std::ofstream(dir_ / "config.yml") << "version: 0.1\n"
                                          "log:\n  level: info\n  accesslog:\n    disabled: true\n"
                                          "storage:\n  filesystem:\n    rootdirectory: "
                                       << (dir_ / "data").string()
                                       << "\n  maintenance:\n    uploadpurging:\n      enabled: false\n"
                                          "http:\n  addr: "
                                       << address() << "\n"
                                       << auth;
    process_ = std::make_unique<Process>(std::vector<std::string>{kRegistry, "serve", (dir_ / "config.yml").string()},
                                         Env{}, dir_ / "stdout", dir_ / "log");
    http::CurlTransport transport;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      http::Request req;
      req.url = "http://" + address() + "/v2/";
      req.connect_timeout = std::chrono::milliseconds(200);
      // 200 without auth, 401 with it: either way the registry serves the API.
      if (auto r = transport.perform(req); r && (r->status == 200 || r->status == 401)) return;
      if (!process_->running() || std::chrono::steady_clock::now() > end) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    process_.reset();
    // Another process may have taken the port between the probe and the bind: try another.
    if (attempt == 2) throw std::runtime_error("docker-registry did not start: " + log());
  }
}

Registry::~Registry() {
  if (!process_) return;
  process_->signal(SIGTERM);
  if (!process_->wait_for(std::chrono::seconds(5))) process_->signal(SIGKILL);
  process_.reset();
}

std::string Registry::log() const { return read_text(dir_ / "log"); }

}  // namespace kn::test

// A real Docker registry (Debian docker-registry, distribution 2.8) for tests: `serve CONFIG`
// on 127.0.0.1 with a free port, filesystem storage in a temp dir, and optional htpasswd
// authentication (bcrypt, made with `htpasswd -B`). dockerd treats 127.0.0.0/8 registries as
// insecure (plain HTTP) by default, so no daemon flag is needed to pull from or push to it.
// Throws std::runtime_error when it cannot start: a broken fixture is a broken test.
#pragma once

#include "support/process.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace kn::test {

struct RegistryOptions {
  // Non-empty: clients must log in with this user and password (HTTP basic over htpasswd).
  std::string username;
  std::string password;
};

class Registry {
 public:
  explicit Registry(RegistryOptions options = {});
  ~Registry();  // SIGTERM, then SIGKILL; the storage directory is removed
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // True when /usr/bin/docker-registry and /usr/bin/htpasswd exist.
  static bool available();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }  // "127.0.0.1:PORT"
  std::uint16_t port() const { return port_; }
  std::string log() const;

 private:
  TempDir dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

// A loopback TCP port nobody listens on at the time of the call.
std::uint16_t free_loopback_port();

}  // namespace kn::test

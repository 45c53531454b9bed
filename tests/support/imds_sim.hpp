// The IMDS simulator (tests/support/imds_sim.py) as a test fixture: started on a loopback
// ephemeral port, driven and inspected through its /_sim/ control API with the project's
// own HTTP transport.
#pragma once

#include "support/process.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kn::test {

class ImdsSim {
 public:
  explicit ImdsSim(std::vector<std::string> args = {}, bool wait_until_listening = true);
  ~ImdsSim();

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  // IMDS requests seen so far: [{method, path, token, status, t}].
  nlohmann::json requests() const;
  void clear_requests() const;
  nlohmann::json configure(const nlohmann::json& changes) const;
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body = {}) const;

  // Environment pointing a child process at this simulator (and nowhere else).
  Env env() const;

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

}  // namespace kn::test

// `kontena-agent run` as the end-to-end tests start it: on the master simulator and (when given)
// a private dockerd; IMDS off, so the labels are ephemeral=true unless told otherwise; its own
// state dir and log files; debug log; quick reconnects. Stopped with SIGTERM when destroyed.
#pragma once

#include "support/dockerd.hpp"
#include "support/master_sim.hpp"
#include "support/process.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kn::test {

struct AgentOptions {
  std::string name = "node-1";
  std::optional<bool> ephemeral;                              // KONTENA_EPHEMERAL; unset: the default
  std::vector<std::pair<std::string, std::string>> env;      // set last, override the above
  std::vector<std::string> prefix;                            // run through this command (absolute path; it must exec)
};

struct AgentProcess {
  // docker nullptr: a socket that does not exist (Docker down).
  AgentProcess(const MasterSim& master, const Dockerd* docker, AgentOptions options = {});
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // Starts it (again, after terminate()); each run logs to a file of its own.
  void start();
  // SIGTERM and the exit code (nullopt: still running after 10 s).
  std::optional<int> terminate();
  // The stderr of every run so far.
  std::string log() const;
  std::filesystem::path state_dir() const { return dir / "state"; }

  TempDir dir;
  std::string name;
  std::vector<std::string> prefix;
  Env env;
  std::unique_ptr<Process> process;
  int starts = 0;
};

}  // namespace kn::test

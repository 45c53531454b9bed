// Child processes for tests: the project's binaries and simulators run as real processes.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kn::test {

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct Env {
  std::map<std::string, std::string> set;  // added or replaced
  std::vector<std::string> unset;          // removed from the inherited environment
};

// `over` applied on top of `base` (e.g. the IMDS simulator's and dockerd's environments):
// its settings win, and what it unsets is unset unless it also sets it.
Env merge(Env base, const Env& over);

class Process {
 public:
  // Starts argv[0] (a path) with the inherited environment changed by `env`; stdout and
  // stderr go to the given files (empty: /dev/null).
  Process(std::vector<std::string> argv, const Env& env, const std::filesystem::path& out = {},
          const std::filesystem::path& err = {});
  ~Process();  // SIGKILL if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Exit code (128+signal when killed) once the process ended within `timeout`.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  void signal(int sig) const;
  bool running();

 private:
  void record_output();  // support/record.hpp: once the process has ended

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string name_;
  std::filesystem::path out_, err_;
  bool recorded_ = false;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

// Runs to completion (killed after `timeout`, exit_code -1 then).
RunResult run(std::vector<std::string> argv, const Env& env = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));

std::string read_text(const std::filesystem::path& path);
// A secret file (token, password) created 0600 by open(2), so it is never readable by others,
// not even between creation and a chmod.
void write_private_file(const std::filesystem::path& path, std::string_view content);

// Path of a binary the build made (build/bin/NAME).
std::string binary(std::string_view name);

// Polls `condition` every 20 ms until it holds (true) or `timeout` passes (false): tests wait
// for what they need, never for a fixed time.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Milliseconds since `start`: what the fault tests print as their measured recovery.
inline long long ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

// The port a simulator wrote to its --port-file; nullopt when `process` ended or `timeout`
// passed before the file held a number.
std::optional<int> wait_for_port_file(const std::filesystem::path& file, Process& process,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace kn::test

#include "support/process.hpp"

#include "support/record.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace kn::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "kn-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Process::Process(std::vector<std::string> argv, const Env& env, const std::filesystem::path& out,
                 const std::filesystem::path& err)
    : name_(argv.empty() ? std::string() : std::filesystem::path(argv.front()).filename().string()),
      out_(out),
      err_(err) {
  record_argv(argv);
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos) vars[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& name : env.unset) vars.erase(name);
  for (const auto& [k, v] : env.set) vars[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    auto redirect = [](const std::filesystem::path& p, int fd) {
      const int f = p.empty() ? ::open("/dev/null", O_WRONLY) : ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (f >= 0) ::dup2(f, fd);
    };
    redirect(out, STDOUT_FILENO);
    redirect(err, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (!status_ && pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  record_output();
}

void Process::record_output() {
  if (recorded_) return;
  recorded_ = true;
  // stderr only: it is where every project binary and simulator logs (spdlog's stderr sink,
  // agent/core/logging.hpp); stdout is a command's output, and `render` without -o prints the
  // user-data, which carries the grid token by design.
  if (!err_.empty()) record_log(name_ + " stderr", err_);
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      record_output();
      return status_;
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Process::signal(int sig) const {
  if (!status_ && pid_ > 0) ::kill(pid_, sig);
}

bool Process::running() { return !wait_for(std::chrono::milliseconds(0)).has_value(); }

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run(std::vector<std::string> argv, const Env& env, std::chrono::milliseconds timeout) {
  TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  RunResult result;
  {
    Process p(std::move(argv), env, dir / "out", dir / "err");
    auto code = p.wait_for(timeout);
    result.exit_code = code.value_or(-1);
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  result.out = read_text(dir / "out");
  result.err = read_text(dir / "err");
  return result;
}

void write_private_file(const std::filesystem::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("failed to create " + path.string() + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // an existing file keeps its mode through O_TRUNC
  std::string_view rest = content;
  while (!rest.empty()) {
    const auto n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      throw std::runtime_error("failed to write " + path.string() + ": " + std::strerror(errno));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
}

std::string binary(std::string_view name) { return std::string(KN_BIN_DIR) + "/" + std::string(name); }

Env merge(Env base, const Env& over) {
  for (const auto& [k, v] : over.set) {
    base.set[k] = v;
    std::erase(base.unset, k);
  }
  for (const auto& name : over.unset) {
    if (over.set.contains(name)) continue;
    base.set.erase(name);
    base.unset.push_back(name);
  }
  return base;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::optional<int> wait_for_port_file(const std::filesystem::path& file, Process& process,
                                      std::chrono::milliseconds timeout) {
  int port = 0;
  wait_until(
      [&] {
        const auto text = read_text(file);
        if (!text.empty()) port = std::stoi(text);
        return port != 0 || !process.running();
      },
      timeout);
  if (port == 0) return std::nullopt;
  return port;
}

}  // namespace kn::test

// `kontena container exec` / `kontena service exec` on this node, and `kontena container
// inspect`: the master's /containers/{create_exec, run_exec, tty_input, tty_resize,
// terminate_exec, exec, inspect} calls, as kontena v1.5.4: agent/lib/kontena/rpc/docker_container_api.rb
// and agent/lib/kontena/actors/container_exec.rb serve them, and the /container_exec/{output, exit,
// error} notifications the master relays to the user (server/app/services/rpc/container_exec_handler.rb,
// server/app/services/docker/streaming_executor.rb). docs/runtime.md "Exec and inspect" has the rules.
//
// Like the Ruby agent, any container on the engine can be inspected and exec'd into: the master
// knows every container of the node from /containers/save, and its API decides who may ask.
//
// Docker I/O runs on a small thread pool of its own, one strand per session (and per one-shot
// request); the master calls and the notifications stay on the loop.
#pragma once

#include "runtime/runtime_service.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kn::runtime {

struct ExecSessionsOptions {
  // A session the master created but never ran (/containers/run_exec) is dropped after this.
  std::chrono::milliseconds start_timeout{30000};
  // After its container stopped, a running session's stream gets this long to end by itself
  // (the engine normally closes it at once); then it is closed.
  std::chrono::milliseconds stop_grace{2000};
  // /containers/exec: the master's request times out after 300 s; the command gets a little less.
  std::chrono::milliseconds oneshot_limit{290000};
  std::size_t oneshot_max_output = 1U << 20U;  // stdout + stderr bytes of one /containers/exec
  std::size_t max_sessions = 32;               // open sessions; create_exec fails beyond
  std::size_t max_chunk = 16 * 1024;           // bytes read at once: bounds an output chunk (+3, UTF-8)
  std::size_t threads = 2;
};

class ExecSessions final : public RuntimeService {
 public:
  explicit ExecSessions(RuntimeContext context, ExecSessionsOptions options = {});
  ~ExecSessions() override;
  ExecSessions(const ExecSessions&) = delete;
  ExecSessions& operator=(const ExecSessions&) = delete;

  std::set<std::string> methods() const override;
  void on_master_call(std::optional<std::uint32_t> request_id, const std::string& method,
                      const nlohmann::json& params, std::function<void(Result<nlohmann::json>)> reply) override;
  void on_container_stopped(const std::string& container_id) override;
  void stop() override;

  std::size_t session_count() const;  // open sessions (loop)

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// The params of each method, checked (exposed for the unit tests). Messages name the method and
// the expected shape.
namespace exec_params {

struct RunExec {
  std::string session;
  std::vector<std::string> cmd;
  bool tty = false;
  bool stdin = false;
};
struct TtyInput {
  std::string session;
  std::optional<std::string> data;  // nullopt: close stdin
};
struct TtyResize {
  std::string session;
  int width = 0;
  int height = 0;
};
struct Exec {
  std::string container;
  std::vector<std::string> cmd;
};

Result<std::string> container_id(const std::string& method, const nlohmann::json& params);  // [id, ...]
Result<std::string> session_id(const std::string& method, const nlohmann::json& params);    // [uuid, ...]
Result<RunExec> run_exec(const nlohmann::json& params);
Result<TtyInput> tty_input(const nlohmann::json& params);
Result<TtyResize> tty_resize(const nlohmann::json& params);
Result<Exec> exec(const nlohmann::json& params);

}  // namespace exec_params

}  // namespace kn::runtime

#include "runtime/exec_sessions.hpp"

#include "core/logging.hpp"
#include "docker/container_api.hpp"
#include "docker/exec_stream.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>

#include <atomic>
#include <map>
#include <mutex>

namespace kn::runtime {

using nlohmann::json;
namespace asio = boost::asio;

namespace {

constexpr const char* kCreateExec = "/containers/create_exec";
constexpr const char* kRunExec = "/containers/run_exec";
constexpr const char* kTtyInput = "/containers/tty_input";
constexpr const char* kTtyResize = "/containers/tty_resize";
constexpr const char* kTerminateExec = "/containers/terminate_exec";
constexpr const char* kExec = "/containers/exec";
constexpr const char* kInspect = "/containers/inspect";
constexpr const char* kOutput = "/container_exec/output";
constexpr const char* kExit = "/container_exec/exit";
constexpr const char* kError = "/container_exec/error";

// The exit code is set a moment after the engine closes the stream; polled this often, this many times.
constexpr std::chrono::milliseconds kExitPoll{50};
constexpr int kExitPolls = 40;
// A resize races with the start of the process (409 until it runs); retried this often, this many times.
constexpr std::chrono::milliseconds kResizeRetry{50};
constexpr int kResizeRetries = 20;

std::shared_ptr<spdlog::logger> logger() { return log::get("exec"); }

using Strand = asio::strand<asio::thread_pool::executor_type>;

Failure bad_params(const std::string& method, const std::string& shape) {
  return fail(Errc::usage, "failed to serve " + method + ": the params must be " + shape);
}

Result<std::vector<std::string>> command_of(const std::string& method, const json& cmd, const std::string& shape) {
  if (!cmd.is_array() || cmd.empty()) return bad_params(method, shape);
  std::vector<std::string> out;
  for (const auto& part : cmd) {
    if (!part.is_string()) return bad_params(method, shape);
    out.push_back(part.get<std::string>());
  }
  return out;
}

bool flag_of(const json& params, std::size_t i) {
  return params.size() > i && params[i].is_boolean() && params[i].get<bool>();
}

// A command for the log: the program and how many arguments (arguments may hold passwords).
std::string loggable(const std::vector<std::string>& cmd) {
  return cmd.empty() ? "(none)" : fmt::format("{} (+{} argument(s))", cmd.front(), cmd.size() - 1);
}

// The exec's exit code, once the engine has set it; nullopt while it still runs.
std::optional<int> exit_code_of(const json& doc) {
  if (!doc.is_object() || doc.value("Running", false) || !doc.contains("ExitCode") ||
      !doc["ExitCode"].is_number_integer())
    return std::nullopt;
  return doc["ExitCode"].get<int>();
}

// Docker keeps an exec's process running when its connection closes (a shell would wait on its
// terminal for ever), and has no call to end one. So a session ended by terminate_exec or by
// the agent's stop hangs its process up, as a closed terminal would: SIGHUP to the engine's
// Pid (the host's pid namespace, where the agent runs), after checking from /proc that the pid
// is still a process of that container's cgroup (the name holds the container id with both
// cgroup drivers), so a reused pid is never signalled.
void hang_up(docker::ContainerApi& api, const std::string& exec_id, const std::string& container_id) {
  auto doc = api.inspect_exec(exec_id);
  if (!doc || !doc->value("Running", false) || !(*doc)["Pid"].is_number_integer()) return;
  const auto pid = (*doc)["Pid"].get<pid_t>();
  if (pid <= 1) return;
  std::ifstream cgroup("/proc/" + std::to_string(pid) + "/cgroup");
  const std::string text((std::istreambuf_iterator<char>(cgroup)), std::istreambuf_iterator<char>());
  if (container_id.empty() || text.find(container_id) == std::string::npos) {
    logger()->warn("failed to hang up exec {}: its process {} is not in container {}'s cgroup here; it keeps running",
                   exec_id.substr(0, 12), pid, container_id.substr(0, 12));
    return;
  }
  if (::kill(pid, SIGHUP) != 0) {
    logger()->warn("failed to hang up exec {} (pid {}): {}; it keeps running", exec_id.substr(0, 12), pid,
                   std::strerror(errno));
  }
}

}  // namespace

namespace exec_params {

// Ids longer than this are refused unread: a container id is 64 hex digits, a session id a
// UUID, and error messages and logs name the id, so a hostile one must stay short.
constexpr std::size_t kMaxIdLength = 256;

bool usable_id(const json& id) {
  if (!id.is_string()) return false;
  const auto& text = id.get_ref<const std::string&>();
  return !text.empty() && text.size() <= kMaxIdLength;
}

Result<std::string> container_id(const std::string& method, const json& params) {
  if (!params.is_array() || params.empty() || !usable_id(params[0]))
    return bad_params(method, "[container_id, ...]");
  return params[0].get<std::string>();
}

Result<std::string> session_id(const std::string& method, const json& params) {
  if (!params.is_array() || params.empty() || !usable_id(params[0]))
    return bad_params(method, "[session_id, ...]");
  return params[0].get<std::string>();
}

Result<RunExec> run_exec(const json& params) {
  const std::string shape = "[session_id, [cmd, args...], tty, stdin]";
  auto session = session_id(kRunExec, params);
  if (!session) return session.error();
  if (params.size() < 2 || params.size() > 4) return bad_params(kRunExec, shape);
  auto cmd = command_of(kRunExec, params[1], shape);
  if (!cmd) return cmd.error();
  for (std::size_t i = 2; i < params.size(); ++i) {
    if (!params[i].is_boolean() && !params[i].is_null()) return bad_params(kRunExec, shape);
  }
  return RunExec{*session, std::move(*cmd), flag_of(params, 2), flag_of(params, 3)};
}

Result<TtyInput> tty_input(const json& params) {
  auto session = session_id(kTtyInput, params);
  if (!session) return session.error();
  if (params.size() != 2 || !(params[1].is_string() || params[1].is_null()))
    return bad_params(kTtyInput, "[session_id, data or nil]");
  TtyInput in{*session, std::nullopt};
  if (params[1].is_string()) in.data = params[1].get<std::string>();
  return in;
}

Result<TtyResize> tty_resize(const json& params) {
  const std::string shape = "[session_id, {width, height}] with whole numbers from 0 to 65535";
  auto session = session_id(kTtyResize, params);
  if (!session) return session.error();
  if (params.size() != 2 || !params[1].is_object()) return bad_params(kTtyResize, shape);
  const auto& size = params[1];
  auto dimension = [&](const char* key) -> std::optional<int> {
    if (!size.contains(key) || !size[key].is_number_integer()) return std::nullopt;
    const auto v = size[key].get<std::int64_t>();
    if (v < 0 || v > 65535) return std::nullopt;
    return static_cast<int>(v);
  };
  auto width = dimension("width");
  auto height = dimension("height");
  if (!width || !height) return bad_params(kTtyResize, shape);
  return TtyResize{*session, *width, *height};
}

Result<Exec> exec(const json& params) {
  const std::string shape = "[container_id, [cmd, args...], {}]";
  auto id = container_id(kExec, params);
  if (!id) return id.error();
  if (params.size() < 2 || params.size() > 3 || (params.size() == 3 && !params[2].is_object() && !params[2].is_null()))
    return bad_params(kExec, shape);
  auto cmd = command_of(kExec, params[1], shape);
  if (!cmd) return cmd.error();
  return Exec{*id, std::move(*cmd)};
}

}  // namespace exec_params

class ExecSessions::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(RuntimeContext context, ExecSessionsOptions options)
      : ctx_(std::move(context)), options_(options), pool_(options.threads == 0 ? 1 : options.threads) {}

  // One session: created by create_exec, run by run_exec, ended by its process, its
  // container, terminate_exec, the start timeout or stop(). The loop owns it through
  // `sessions_`; everything below `strand` belongs to the strand.
  struct Session {
    Session(std::string u, std::string c, Strand s, docker::ContainerApi a)
        : uuid(std::move(u)), container(std::move(c)), strand(std::move(s)), api(std::move(a)), timer(strand) {}
    const std::string uuid;
    const std::string container;  // full Docker id
    Strand strand;
    docker::ContainerApi api;
    asio::steady_timer timer;  // start timeout, then the grace after the container stopped
    asio::steady_timer resize_timer{strand};
    std::string exec_id;
    std::shared_ptr<docker::ExecStream> stream;
    std::optional<exec_params::TtyResize> size;
    std::string early_input;  // tty_input before run_exec (the Ruby agent buffers it in a pipe)
    bool early_eof = false;
    bool ran = false, running = false, ended = false, tty = false;
    bool container_stopped = false, terminated = false;
  };

  // ---- the master's calls (loop) ----

  void call(std::optional<std::uint32_t> request_id, const std::string& method, const json& params,
            const std::function<void(Result<json>)>& reply) {
    auto answer = [&](Result<json> r) {
      if (request_id && reply) reply(std::move(r));
    };
    if (stopped_) {
      answer(fail(Errc::stopped, "failed to serve " + method + ": the agent is stopping"));
      return;
    }
    if (method == kCreateExec) {
      auto id = exec_params::container_id(method, params);
      if (!id) return answer(id.error());
      create(*id, request_id ? reply : nullptr);
    } else if (method == kRunExec) {
      auto p = exec_params::run_exec(params);
      if (!p) return warn_and(answer, p.error());
      on_session(p->session, method, answer, [p = *p](Impl& self, const std::shared_ptr<Session>& s) {
        self.run(s, p);
      });
    } else if (method == kTtyInput) {
      auto p = exec_params::tty_input(params);
      if (!p) return warn_and(answer, p.error());
      on_session(p->session, method, answer, [p = *p](Impl&, const std::shared_ptr<Session>& s) { input(s, p); });
    } else if (method == kTtyResize) {
      auto p = exec_params::tty_resize(params);
      if (!p) return warn_and(answer, p.error());
      on_session(p->session, method, answer, [p = *p](Impl& self, const std::shared_ptr<Session>& s) {
        s->size = p;
        self.resize(s, 0);
      });
    } else if (method == kTerminateExec) {
      auto id = exec_params::session_id(method, params);
      if (!id) return warn_and(answer, id.error());
      on_session(*id, method, answer, [](Impl& self, const std::shared_ptr<Session>& s) {
        s->terminated = true;
        if (s->running && !s->ended) hang_up(s->api, s->exec_id, s->container);
        self.end(s, std::nullopt, std::nullopt);
      });
    } else if (method == kExec) {
      auto p = exec_params::exec(params);
      if (!p) return answer(p.error());
      oneshot(*p, request_id ? reply : nullptr);
    } else if (method == kInspect) {
      auto id = exec_params::container_id(method, params);
      if (!id) return answer(id.error());
      inspect(*id, request_id ? reply : nullptr);
    } else {
      answer(fail(Errc::usage, "failed to serve " + method + ": not an exec method"));
    }
  }

  void container_stopped(const std::string& container_id) {
    for (auto& [uuid, s] : sessions_) {
      if (s->container != container_id) continue;
      on_strand(s, [](Impl& self, const std::shared_ptr<Session>& session) { self.container_gone(session); });
    }
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    // No handler runs after the join, so the loop may close the streams itself; their end
    // handlers see stopped_ and send nothing.
    pool_.stop();
    pool_.join();
    for (auto& [uuid, s] : sessions_) {
      s->timer.cancel();
      if (s->running && s->stream && !s->stream->ended()) hang_up(s->api, s->exec_id, s->container);
      if (s->stream) s->stream->cancel();
    }
    sessions_.clear();
    std::lock_guard lock(oneshots_mutex_);
    for (auto& weak : oneshots_) {
      if (auto stream = weak.lock()) stream->cancel();
    }
    oneshots_.clear();
  }

  std::size_t size() const { return sessions_.size(); }

 private:
  template <class Answer>
  static void warn_and(Answer& answer, const Failure& f) {
    logger()->warn("{}", f.message);
    answer(f);
  }

  std::weak_ptr<Impl> weak() { return weak_from_this(); }

  template <class F>
  void on_loop(F f) {
    asio::post(ctx_.loop, [w = weak(), f = std::move(f)]() mutable {
      if (auto self = w.lock(); self && !self->stopped_) f(*self);
    });
  }

  template <class F>
  void on_strand(const std::shared_ptr<Session>& s, F f) {
    asio::post(s->strand, [w = weak(), s, f = std::move(f)]() mutable {
      if (auto self = w.lock(); self && !self->stopped_) f(*self, s);
    });
  }

  // A notification call for a session: the Ruby agent raises 404 for an unknown session
  // (a notification's error goes nowhere), so it is logged here.
  template <class Answer, class F>
  void on_session(const std::string& uuid, const std::string& method, Answer& answer, F f) {
    auto it = sessions_.find(uuid);
    if (it == sessions_.end()) {
      auto missing = fail(Errc::docker_not_found, "failed to serve " + method + ": no exec session " + uuid +
                                                      " on this node (it ended or never existed)");
      // The Ruby agent raises here, which a notification cannot carry back; told as the
      // session's error, the user's `kontena container exec` ends instead of waiting.
      if (method == kRunExec) notify(kError, json::array({uuid, missing.message}));
      warn_and(answer, missing);
      return;
    }
    on_strand(it->second, std::move(f));
    answer(json::object());
  }

  void notify(const std::string& method, json params) {
    if (ctx_.master != nullptr) ctx_.master->notify(method, std::move(params));
  }

  // ---- create_exec (pool, then loop) ----

  void create(const std::string& container, std::function<void(Result<json>)> reply) {
    auto done = [reply](Result<json> r) {
      if (reply) reply(std::move(r));
    };
    if (sessions_.size() >= options_.max_sessions) {
      done(fail(Errc::docker_conflict, fmt::format("failed to create an exec session in container '{}': {} sessions "
                                                   "are open on this node, the most it runs at once",
                                                   container, options_.max_sessions)));
      return;
    }
    asio::post(pool_, [w = weak(), container, done, host = ctx_.docker_host]() mutable {
      auto api = docker::ContainerApi::connect(host);
      Result<json> doc = api ? api->inspect(container) : Result<json>(api.error());
      auto self = w.lock();
      if (!self) return;
      if (!doc) {
        self->on_loop([done, f = doc.error()](Impl&) { done(f); });
        return;
      }
      const std::string id = doc->value("Id", container);
      self->on_loop([done, id, api = std::make_shared<docker::ContainerApi>(std::move(*api))](Impl& s) mutable {
        auto session = std::make_shared<Session>(boost::uuids::to_string(s.uuids_()), id,
                                                 asio::make_strand(s.pool_.get_executor()), std::move(*api));
        s.sessions_[session->uuid] = session;
        logger()->info("exec session {} created for container {}", session->uuid, id.substr(0, 12));
        s.on_strand(session, [](Impl& self2, const std::shared_ptr<Session>& ss) { self2.arm_start_timeout(ss); });
        done(json{{"id", session->uuid}});
      });
    });
  }

  void arm_start_timeout(const std::shared_ptr<Session>& s) {
    s->timer.expires_after(options_.start_timeout);
    s->timer.async_wait(asio::bind_executor(s->strand, [w = weak(), s](boost::system::error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped_ || s->ran || s->ended) return;
      self->end(s, std::nullopt,
                fmt::format("failed to run exec session {}: no {} within {} ms of {}", s->uuid, kRunExec,
                            self->options_.start_timeout.count(), kCreateExec));
    }));
  }

  // ---- a session (its strand) ----

  void run(const std::shared_ptr<Session>& s, const exec_params::RunExec& p) {
    if (s->ended) return;
    if (s->ran) {
      logger()->warn("failed to serve {} for exec session {}: it already runs a command", kRunExec, s->uuid);
      return;
    }
    s->ran = true;
    s->tty = p.tty;
    s->timer.cancel();
    logger()->info("exec session {} runs {} in container {} (tty: {}, stdin: {})", s->uuid, loggable(p.cmd),
                   s->container.substr(0, 12), p.tty, p.stdin);
    json config{{"AttachStdin", p.stdin}, {"AttachStdout", true}, {"AttachStderr", true}, {"Tty", p.tty},
                {"Cmd", p.cmd}};
    // An interactive terminal needs a terminal type; the Ruby agent sets the same.
    if (p.tty && p.stdin) config["Env"] = json::array({"TERM=xterm"});
    auto exec_id = s->api.create_exec(s->container, config);
    if (!exec_id) {
      end(s, std::nullopt, exec_id.error().message);
      return;
    }
    s->exec_id = *exec_id;
    docker::ExecStreamOptions o;
    o.socket_path = s->api.engine().socket_path();
    o.api_version = s->api.engine().api_version();
    o.exec_id = *exec_id;
    o.tty = p.tty;
    o.read_size = options_.max_chunk;
    s->stream = docker::ExecStream::create(s->strand, o);
    if (p.stdin) {
      s->stream->write(std::exchange(s->early_input, {}));
      if (s->early_eof) s->stream->close_stdin();
    }
    auto w = weak();
    s->stream->start(
        [w, s] {
          auto self = w.lock();
          if (!self || self->stopped_) return;
          s->running = true;
          if (s->size) self->resize(s, 0);
        },
        [w, s](std::vector<docker::ExecOutput> out) {
          auto self = w.lock();
          if (!self || self->stopped_) return;
          // One read at a time travels to the loop; the next is read once it was handed over.
          self->on_loop([s, out = std::move(out)](Impl& loop_self) {
            for (const auto& piece : out) {
              if (piece.data.empty()) continue;
              loop_self.notify(kOutput, json::array({s->uuid, piece.stream == docker::kStderr ? "stderr" : "stdout",
                                                     piece.data}));
            }
            loop_self.on_strand(s, [](Impl&, const std::shared_ptr<Session>& ss) {
              if (ss->stream) ss->stream->resume();
            });
          });
        },
        [w, s](Status status) {
          auto self = w.lock();
          if (!self || self->stopped_ || s->ended) return;
          if (s->terminated) return;
          if (!status && !status.error().is(Errc::stopped)) {
            self->end(s, std::nullopt, status.error().message);
            return;
          }
          self->conclude(s, 0);
        });
  }

  static void input(const std::shared_ptr<Session>& s, const exec_params::TtyInput& p) {
    if (s->ended) return;
    if (!s->stream) {
      if (p.data) s->early_input += *p.data;
      else s->early_eof = true;
      return;
    }
    if (p.data) s->stream->write(*p.data);
    else s->stream->close_stdin();
  }

  void resize(const std::shared_ptr<Session>& s, int attempt) {
    if (s->ended || !s->running || !s->size || !s->tty) return;
    auto st = s->api.resize_exec(s->exec_id, s->size->height, s->size->width);
    if (st) return;
    // 409 (or "process not found") until the engine has started the process.
    if (attempt < kResizeRetries && (st.error().is(Errc::docker_conflict) || st.error().is(Errc::docker_not_found) ||
                                     st.error().is(Errc::docker_failed))) {
      s->resize_timer.expires_after(kResizeRetry);
      s->resize_timer.async_wait(asio::bind_executor(s->strand, [w = weak(), s, attempt](boost::system::error_code ec) {
        auto self = w.lock();
        if (!ec && self && !self->stopped_) self->resize(s, attempt + 1);
      }));
      return;
    }
    logger()->warn("exec session {}: {}", s->uuid, st.error().message);
  }

  void container_gone(const std::shared_ptr<Session>& s) {
    if (s->ended) return;
    s->container_stopped = true;
    if (!s->ran) {
      end(s, std::nullopt,
          "failed to run exec session " + s->uuid + ": container " + s->container.substr(0, 12) + " stopped");
      return;
    }
    if (!s->stream || s->stream->ended()) return;
    // The engine closes the stream itself when the container's processes are gone; this is
    // the backstop, so that no session outlives its container.
    s->timer.expires_after(options_.stop_grace);
    s->timer.async_wait(asio::bind_executor(s->strand, [s](boost::system::error_code ec) {
      if (!ec && s->stream && !s->stream->ended()) s->stream->cancel();
    }));
  }

  // The stream ended: the exit code from the engine, polled until it is set.
  void conclude(const std::shared_ptr<Session>& s, int attempt) {
    if (s->ended) return;
    auto doc = s->api.inspect_exec(s->exec_id);
    if (doc) {
      if (auto code = exit_code_of(*doc)) {
        end(s, *code, std::nullopt);
        return;
      }
    }
    if (attempt < kExitPolls && doc) {
      s->timer.expires_after(kExitPoll);
      s->timer.async_wait(asio::bind_executor(s->strand, [w = weak(), s, attempt](boost::system::error_code ec) {
        auto self = w.lock();
        if (!ec && self && !self->stopped_) self->conclude(s, attempt + 1);
      }));
      return;
    }
    // The container stopped under the process and the engine kept no exit code for it.
    end(s, std::nullopt,
        doc ? fmt::format("failed to read the exit code of exec session {}: the process did not end{}", s->uuid,
                          s->container_stopped ? " before its container stopped" : "")
            : doc.error().message);
  }

  // Sends the last word (an exit code, an error, or nothing for terminate_exec) and forgets the session.
  void end(const std::shared_ptr<Session>& s, std::optional<int> code, std::optional<std::string> error) {
    if (s->ended) return;
    s->ended = true;
    s->timer.cancel();
    s->resize_timer.cancel();
    if (s->stream) s->stream->cancel();
    if (code) logger()->info("exec session {} ended with exit code {}", s->uuid, *code);
    else if (error) logger()->warn("exec session {}: {}", s->uuid, *error);
    else logger()->info("exec session {} terminated", s->uuid);
    on_loop([s, code, error](Impl& self) {
      if (code) self.notify(kExit, json::array({s->uuid, *code}));
      else if (error) self.notify(kError, json::array({s->uuid, *error}));
      self.sessions_.erase(s->uuid);
    });
  }

  // ---- /containers/exec: one command, its output collected (a strand of its own) ----

  struct OneShot {
    explicit OneShot(Strand s) : strand(std::move(s)), timer(strand) {}
    Strand strand;
    asio::steady_timer timer;
    std::optional<docker::ContainerApi> api;
    std::string exec_id;
    std::shared_ptr<docker::ExecStream> stream;
    json out = json::array(), err = json::array();
    std::size_t bytes = 0;
    std::optional<Failure> failure;
    std::function<void(Result<json>)> reply;
    bool replied = false;
  };

  void oneshot(const exec_params::Exec& p, std::function<void(Result<json>)> reply) {
    auto job = std::make_shared<OneShot>(asio::make_strand(pool_.get_executor()));
    job->reply = std::move(reply);
    asio::post(job->strand, [w = weak(), job, p, host = ctx_.docker_host] {
      auto self = w.lock();
      if (!self || self->stopped_) return;
      auto api = docker::ContainerApi::connect(host);
      if (!api) return self->answer(job, api.error());
      job->api.emplace(std::move(*api));
      json config{{"AttachStdin", false}, {"AttachStdout", true}, {"AttachStderr", true}, {"Tty", false},
                  {"Cmd", p.cmd}};
      auto id = job->api->create_exec(p.container, config);
      if (!id) return self->answer(job, id.error());
      job->exec_id = *id;
      logger()->info("exec {} runs {} in container {}", id->substr(0, 12), loggable(p.cmd), p.container.substr(0, 12));
      docker::ExecStreamOptions o;
      o.socket_path = job->api->engine().socket_path();
      o.api_version = job->api->engine().api_version();
      o.exec_id = *id;
      o.read_size = self->options_.max_chunk;
      job->stream = docker::ExecStream::create(job->strand, o);
      {
        std::lock_guard lock(self->oneshots_mutex_);
        std::erase_if(self->oneshots_, [](const auto& weak_stream) { return weak_stream.expired(); });
        self->oneshots_.push_back(job->stream);
      }
      job->timer.expires_after(self->options_.oneshot_limit);
      job->timer.async_wait(asio::bind_executor(job->strand, [job, limit = self->options_.oneshot_limit](
                                                                 boost::system::error_code ec) {
        if (ec || job->stream->ended()) return;
        job->failure = fail(Errc::http_timeout, fmt::format("failed to run exec {}: still running after {} s",
                                                            job->exec_id, limit.count() / 1000));
        job->stream->cancel();
      }));
      // The Ruby agent answers with docker-api's messages: one string per Docker frame.
      job->stream->start(
          nullptr,
          [w, job](std::vector<docker::ExecOutput> out) {
            auto me = w.lock();
            if (!me) return;
            for (auto& piece : out) {
              auto& list = piece.stream == docker::kStderr ? job->err : job->out;
              job->bytes += piece.data.size();
              if (piece.frame_start || list.empty()) list.push_back(std::move(piece.data));
              else list.back().get_ref<std::string&>() += piece.data;
            }
            if (job->bytes > me->options_.oneshot_max_output) {
              job->failure = fail(Errc::http_too_large,
                                  fmt::format("failed to run exec {}: its output passed {} bytes; run it in an exec "
                                              "session (kontena container exec -i) instead",
                                              job->exec_id, me->options_.oneshot_max_output));
              job->stream->cancel();
              return;
            }
            job->stream->resume();
          },
          [w, job](Status status) {
            auto me = w.lock();
            if (!me || me->stopped_) return;
            job->timer.cancel();
            if (job->failure) return me->answer(job, *job->failure);
            if (!status) return me->answer(job, status.error());
            me->oneshot_exit(job, 0);
          });
    });
  }

  void oneshot_exit(const std::shared_ptr<OneShot>& job, int attempt) {
    auto doc = job->api->inspect_exec(job->exec_id);
    if (!doc) return answer(job, doc.error());
    if (auto code = exit_code_of(*doc)) return answer(job, json::array({job->out, job->err, *code}));
    if (attempt >= kExitPolls) {
      return answer(job, fail(Errc::docker_failed, "failed to read the exit code of exec " + job->exec_id +
                                                       ": the engine still shows it running"));
    }
    job->timer.expires_after(kExitPoll);
    job->timer.async_wait(asio::bind_executor(job->strand, [w = weak(), job, attempt](boost::system::error_code ec) {
      auto self = w.lock();
      if (!ec && self && !self->stopped_) self->oneshot_exit(job, attempt + 1);
    }));
  }

  void answer(const std::shared_ptr<OneShot>& job, Result<json> result) {
    if (job->replied) return;
    job->replied = true;
    if (!result) logger()->warn("{}", result.error().message);
    on_loop([reply = std::move(job->reply), result = std::move(result)](Impl&) mutable {
      if (reply) reply(std::move(result));
    });
  }

  // ---- /containers/inspect (pool) ----

  void inspect(const std::string& id, std::function<void(Result<json>)> reply) {
    asio::post(pool_, [w = weak(), id, reply = std::move(reply), host = ctx_.docker_host]() mutable {
      auto api = docker::ContainerApi::connect(host);
      Result<json> doc = api ? api->inspect(id) : Result<json>(api.error());
      if (auto self = w.lock()) {
        self->on_loop([reply = std::move(reply), doc = std::move(doc)](Impl&) mutable {
          if (reply) reply(std::move(doc));
        });
      }
    });
  }

  RuntimeContext ctx_;
  ExecSessionsOptions options_;
  asio::thread_pool pool_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // loop
  boost::uuids::random_generator uuids_;                      // loop
  std::mutex oneshots_mutex_;
  std::vector<std::weak_ptr<docker::ExecStream>> oneshots_;  // for stop()
  std::atomic<bool> stopped_{false};
};

ExecSessions::ExecSessions(RuntimeContext context, ExecSessionsOptions options)
    : impl_(std::make_shared<Impl>(std::move(context), options)) {}

ExecSessions::~ExecSessions() { impl_->stop(); }

std::set<std::string> ExecSessions::methods() const {
  return {kCreateExec, kRunExec, kTtyInput, kTtyResize, kTerminateExec, kExec, kInspect};
}

void ExecSessions::on_master_call(std::optional<std::uint32_t> request_id, const std::string& method,
                                  const json& params, std::function<void(Result<json>)> reply) {
  impl_->call(request_id, method, params, reply);
}

void ExecSessions::on_container_stopped(const std::string& container_id) { impl_->container_stopped(container_id); }
void ExecSessions::stop() { impl_->stop(); }
std::size_t ExecSessions::session_count() const { return impl_->size(); }

}  // namespace kn::runtime

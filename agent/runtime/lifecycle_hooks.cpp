#include "runtime/lifecycle_hooks.hpp"

#include "core/logging.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/log_line.hpp"

#include <fmt/format.h>

#include <charconv>
#include <random>

namespace kn::runtime {
namespace {

using nlohmann::json;
using Labels = std::map<std::string, std::string>;

constexpr const char* kMarkOneshotHook = "/node_service_pods/mark_oneshot_hook";
constexpr const char* kHookContainerType = "service_hook";

std::string label_or(const Labels& labels, const char* key, std::string fallback = {}) {
  auto it = labels.find(key);
  return it == labels.end() ? std::move(fallback) : it->second;
}

int instance_of(const Labels& labels) {
  const auto text = label_or(labels, label::instance_number);
  int n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

// The hooks' output as log lines of one container, sent in batches of at most kMaxLogBatch.
// A line split across frames is joined; what is left without a newline at the end is a line.
class HookLog {
 public:
  HookLog(const Labels& labels, std::string container_id, const ReportSink& sink)
      : service_(label_or(labels, label::service_name)),
        stack_(label_or(labels, "io.kontena.stack.name", "null")),
        instance_(instance_of(labels)),
        id_(std::move(container_id)),
        sink_(sink) {}
  HookLog(const HookLog&) = delete;
  HookLog& operator=(const HookLog&) = delete;
  ~HookLog() { flush(); }

  void set_container(std::string id) { id_ = std::move(id); }
  void note(std::string text) { line("stdout", std::move(text)); }

  void feed(docker::OutputStream stream, std::string_view data) {
    auto& partial = stream == docker::OutputStream::stderr_stream ? err_ : out_;
    const char* type = stream == docker::OutputStream::stderr_stream ? "stderr" : "stdout";
    partial.append(data);
    std::size_t start = 0;
    for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
      std::string text = partial.substr(start, nl - start);
      if (!text.empty() && text.back() == '\r') text.pop_back();
      line(type, std::move(text));
      start = nl + 1;
    }
    partial.erase(0, start);
  }

  void flush() {
    if (!out_.empty()) line("stdout", std::exchange(out_, {}));
    if (!err_.empty()) line("stderr", std::exchange(err_, {}));
    send();
  }

 private:
  void line(const char* type, std::string text) {
    lines_.push_back(LogLine{id_, service_, stack_, instance_, rfc3339_nanos(std::chrono::system_clock::now()), type,
                             std::move(text)});
    if (lines_.size() >= kMaxLogBatch) send();
  }
  void send() {
    if (!lines_.empty() && sink_.log_batch) sink_.log_batch(lines_);
    lines_.clear();
  }

  std::string service_, stack_;
  int instance_;
  std::string id_;
  const ReportSink& sink_;
  std::string out_, err_;
  std::vector<LogLine> lines_;
};

// "<name>-<random>": a fresh name for every run, so a hook container left over by a crash
// never blocks the next one.
std::string hook_container_name(const ServicePod& pod) {
  static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::uniform_int_distribution<std::size_t> pick(0, kChars.size() - 1);
  std::string suffix;
  for (int i = 0; i < 8; ++i) suffix += kChars[pick(rd)];
  return container_name(pod) + "-" + suffix;
}

// Oneshots are marked before they run: a hook whose mark failed must not run (it would run
// again after the next list), and one marked but cut short is not retried, as with Kontena.
Status mark_oneshot(const HookSpec& hook, const Labels& labels, PodReconciler& reconciler, const ReportSink& sink) {
  const auto name = label_or(labels, label::container_name, label_or(labels, label::service_id));
  const auto why = [&](const std::string& cause) {
    return fail(Errc::hook_failed, fmt::format("failed to mark the oneshot {} hook '{}' of {} done on the master: {}; "
                                               "it runs once the master answers",
                                               hook.type, hook.cmd, name, cause));
  };
  if (!sink.call_master) return why("no master link");
  const json pod = {{"service_id", label_or(labels, label::service_id)}, {"instance_number", instance_of(labels)}};
  const json spec = {{"id", hook.id}, {"type", hook.type}, {"cmd", hook.cmd}, {"oneshot", hook.oneshot}};
  auto marked = sink.call_master(kMarkOneshotHook, json::array({sink.node_id, pod, spec}));
  if (!marked) return why(marked.error().message);
  reconciler.oneshot_marked(hook.id);
  return {};
}

// The container for one pre_start hook: the pod's body with the hook's command and type; no
// published ports, which the hook does not serve and which would keep the old container's
// ports busy for nothing.
json hook_body(json body, const HookSpec& hook) {
  body["Entrypoint"] = json::array({"/bin/sh", "-c"});
  body["Cmd"] = json::array({hook.cmd});
  body["Labels"][label::container_type] = kHookContainerType;
  body.erase("ExposedPorts");
  if (body.contains("HostConfig") && body["HostConfig"].is_object()) body["HostConfig"].erase("PortBindings");
  return body;
}

Status run_one_pre_start(docker::ContainerApi& api, const ServicePod& pod, const json& body, const HookSpec& hook,
                         const Step& step, HookLog& log) {
  const auto name = hook_container_name(pod);
  auto id = api.create(name, hook_body(body, hook));
  if (!id) return id.error();
  struct Remove {
    docker::ContainerApi& api;
    const std::string& id;
    ~Remove() {
      if (auto removed = api.remove(id, true, true); !removed) log::get("runtime")->warn("{}", removed.error().message);
    }
  } remove{api, *id};
  if (step.container_id.empty()) log.set_container(*id);
  log.note(fmt::format("running pre_start hook: {}", hook.cmd));
  if (auto started = api.start(*id); !started) return started.error();
  auto code = api.wait(*id, kHookLimit);
  if (auto read = api.logs(*id, [&](docker::OutputStream s, std::string_view d) { log.feed(s, d); }, kHookLimit); !read) {
    log::get("runtime")->warn("{}", read.error().message);
  }
  log.flush();
  if (!code) return code.error();
  if (*code != 0) {
    return fail(Errc::hook_failed,
                fmt::format("failed to run the pre_start hook '{}' of {}: it exited with code {}; the instance is not "
                            "started until it succeeds (its output is in the service's logs)",
                            hook.cmd, container_name(pod), *code));
  }
  return {};
}

Status run_one_exec(docker::ContainerApi& api, const std::string& container_id, const HookSpec& hook, HookLog& log) {
  log.note(fmt::format("running {} hook: {}", hook.type, hook.cmd));
  auto exec = api.create_exec(
      container_id, nlohmann::json{{"Cmd", {"/bin/sh", "-c", hook.cmd}}, {"AttachStdin", false}, {"AttachStdout", true},
                                   {"AttachStderr", true}, {"Tty", false}});
  if (!exec) return exec.error();
  auto ran = api.exec_start(*exec, [&](docker::OutputStream s, std::string_view d) { log.feed(s, d); }, kHookLimit);
  log.flush();
  if (!ran) return ran.error();
  auto code = api.exec_exit_code(*exec);
  if (!code) return code.error();
  if (*code != 0) {
    return fail(Errc::hook_failed, fmt::format("failed to run the {} hook '{}' in container {}: it exited with code {}",
                                               hook.type, hook.cmd, container_id, *code));
  }
  return {};
}

}  // namespace

Status run_pre_start_hooks(docker::ContainerApi& api, const ServicePod& pod, const json& body, const Step& step,
                           PodReconciler& reconciler, const ReportSink& sink) {
  const auto labels = container_labels(pod);
  for (const auto& hook : step.hooks) {
    if (hook.oneshot) {
      if (auto marked = mark_oneshot(hook, labels, reconciler, sink); !marked) return marked.error();
    }
    HookLog log(labels, step.container_id, sink);
    if (auto ran = run_one_pre_start(api, pod, body, hook, step, log); !ran) return ran.error();
  }
  return {};
}

void run_exec_hooks(docker::ContainerApi& api, const Labels& labels, const std::string& container_id, const Step& step,
                    PodReconciler& reconciler, const ReportSink& sink) {
  for (const auto& hook : step.hooks) {
    Status status;
    if (hook.oneshot) status = mark_oneshot(hook, labels, reconciler, sink);
    if (status) {
      HookLog log(labels, container_id, sink);
      status = run_one_exec(api, container_id, hook, log);
    }
    if (status) continue;
    log::get("runtime")->warn("{}", status.error().message);
    if (sink.event) {
      sink.event(PodEvent{label_or(labels, label::service_id), instance_of(labels), severity::error,
                          "service:create_instance", error_text(status.error())});
    }
  }
}

}  // namespace kn::runtime

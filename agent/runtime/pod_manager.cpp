#include "runtime/pod_manager.hpp"

#include "core/logging.hpp"
#include "docker/container_api.hpp"
#include "docker/event_stream.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/executor.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace kn::runtime {
namespace {

using nlohmann::json;
namespace asio = boost::asio;
using Strand = asio::strand<asio::thread_pool::executor_type>;

// The longest wait between two tries to reach an absent Docker engine.
constexpr std::chrono::milliseconds kMaxDockerRetry{5000};

constexpr const char* kList = "/node_service_pods/list";
constexpr const char* kSetState = "/node_service_pods/set_state";
constexpr const char* kPodEvent = "/node_service_pods/event";
constexpr const char* kSave = "/containers/save";
constexpr const char* kContainerEvent = "/containers/event";
constexpr const char* kCleanup = "/containers/cleanup";
constexpr const char* kNotifyUpdate = "/service_pods/notify_update";
constexpr const char* kRestart = "/service_pods/restart";
// A worker waits this long for the master's answer to its request (the link's own request
// timeout is shorter, so this only bounds a lost callback).
constexpr std::chrono::seconds kMasterCallLimit{60};

std::shared_ptr<spdlog::logger> logger() { return log::get("runtime"); }

std::optional<PodKey> key_of_labels(const std::map<std::string, std::string>& labels) {
  auto type = labels.find(label::container_type);
  auto id = labels.find(label::service_id);
  auto n = labels.find(label::instance_number);
  if (type == labels.end() || type->second != "container" || id == labels.end() || n == labels.end()) {
    return std::nullopt;
  }
  int number = 0;
  const auto& s = n->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return PodKey{id->second, number};
}

// A connection to the engine per serial worker (ContainerApi is not thread-safe); dropped
// when the engine went away, made again on the next use.
struct ApiSlot {
  std::optional<docker::ContainerApi> api;
  docker::ContainerApi* get(const std::string& host) {
    if (!api) {
      auto made = docker::ContainerApi::connect(host);
      if (!made) {
        logger()->warn("{}", made.error().message);
        return nullptr;
      }
      api.emplace(std::move(*made));
    }
    return &*api;
  }
  void check(const std::optional<Failure>& f) {
    if (f && (f->is(Errc::docker_unavailable) || f->is(Errc::http_connect))) api.reset();
  }
};

}  // namespace

class PodManager::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor loop, std::string docker_host, std::string node_id, MasterPort& master,
       PodManagerOptions options)
      : loop_(std::move(loop)),
        host_(std::move(docker_host)),
        node_id_(std::move(node_id)),
        master_(master),
        options_(options),
        clock_(options.clock != nullptr ? options.clock : &steady_),
        pool_(std::make_unique<asio::thread_pool>(options.threads == 0 ? 1 : options.threads)),
        scan_(asio::make_strand(pool_->get_executor())),
        list_timer_(loop_),
        cleanup_timer_(loop_) {}

  // One pod's serial worker. `desired`, the reconciler, the API and the timer belong to the strand.
  // Only `workers_` owns a worker; queued handlers hold weak references, so none outlives the
  // pool its strand runs on (and no queued job keeps a worker, and so itself, alive).
  struct Worker {
    Worker(PodKey k, Strand s, Clock& clock, const asio::any_io_executor& loop)
        : key(std::move(k)), strand(std::move(s)), reconciler(clock), timer(loop) {}
    PodKey key;
    Strand strand;
    std::optional<ServicePod> desired;
    PodReconciler reconciler;
    ApiSlot api;
    asio::steady_timer timer;
    std::optional<PortWait> port_wait;  // a wait_for_port under way
    // Loop side: what was last dispatched.
    std::optional<ServicePod> wanted;
  };

  void start() {
    events_ = std::thread([self = shared_from_this()] { self->follow_events(); });
    arm_cleanup();
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    events_stop_.interrupt();
    {
      std::lock_guard lock(idle_mutex_);  // a waiter cannot miss the flag between check and wait
    }
    idle_cv_.notify_all();
    for (auto& s : services_) s->stop();
    list_timer_.cancel();
    cleanup_timer_.cancel();
    if (events_.joinable()) events_.join();
    pool_->stop();
    pool_->join();
  }

  // ---- master side (loop thread) ----

  void on_master_call(std::optional<std::uint32_t> request_id, const std::string& method, const json& params,
                      const std::function<void(Result<json>)>& reply) {
    auto answer = [&](Result<json> r) {
      if (request_id && reply) reply(std::move(r));
    };
    if (method == kNotifyUpdate) {
      // The master's deployer waits at most 5 s for this answer: reply first, list after.
      answer(json::object());
      request_list();
      return;
    }
    if (method == kRestart) {
      if (!params.is_array() || params.size() < 2 || !params[0].is_string() || !params[1].is_number_integer()) {
        answer(fail(Errc::pod_invalid, "failed to restart a service instance: expected [service_id, instance_number]"));
        return;
      }
      answer(json::object());
      restart(PodKey{params[0].get<std::string>(), params[1].get<int>()});
      return;
    }
    for (auto& s : services_) {
      if (s->methods().contains(method)) {
        s->on_master_call(request_id, method, params, reply);
        return;
      }
    }
    answer(fail(Errc::usage, fmt::format("failed to serve {}: not a runtime method", method)));
  }

  std::set<std::string> served_methods() const {
    std::set<std::string> all{kNotifyUpdate, kRestart};
    for (const auto& s : services_) all.merge(s->methods());
    return all;
  }

  void add_service(std::shared_ptr<RuntimeService> s) { services_.push_back(std::move(s)); }

  RuntimeContext context() {
    RuntimeContext c;
    c.loop = loop_;
    c.docker_host = host_;
    c.node_id = node_id_;
    c.master = &master_;
    c.state_dir = options_.state_dir;
    c.restart_instance = [w = weak()](const std::string& service_id, int n, const std::string& container_id,
                                      const std::string& started_at) {
      if (auto self = w.lock()) self->restart_if_current(PodKey{service_id, n}, container_id, started_at);
    };
    return c;
  }

  void on_master_info() {
    post_scan([](Impl& self, docker::ContainerApi& api) {
      auto list = api.list({});
      if (!list) {
        logger()->warn("{}", list.error().message);
        return;
      }
      for (const auto& c : *list) self.save_container(api, c.id);
    });
  }

  void on_node_info() {
    online_ = true;
    request_list();
    arm_list();
    for (auto& s : services_) s->on_online();
  }

  void on_link_lost() {
    online_ = false;
    for (auto& s : services_) s->on_offline();
  }

  std::size_t worker_count() const { return workers_.size(); }

 private:
  // ---- helpers ----

  std::weak_ptr<Impl> weak() { return weak_from_this(); }

  template <class F>
  void on_loop(F f) {
    asio::post(loop_, [w = weak(), f = std::move(f)]() mutable {
      if (auto self = w.lock(); self && !self->stopped_) f(*self);
    });
  }

  // A job on the scan strand, with its own engine connection.
  template <class F>
  void post_scan(F f) {
    asio::post(scan_, [w = weak(), f = std::move(f)]() mutable {
      auto self = w.lock();
      if (!self || self->stopped_) return;
      if (auto* api = self->scan_api_.get(self->host_)) f(*self, *api);
    });
  }

  // Runs on the scan strand: inspect and send /containers/save from the loop.
  void save_container(docker::ContainerApi& api, const std::string& id) {
    auto doc = api.inspect(id);
    if (!doc) {
      if (!doc.error().is(Errc::docker_not_found)) logger()->warn("{}", doc.error().message);
      return;
    }
    on_loop([doc = std::move(*doc)](Impl& self) {
      // The inspect ran before the container was removed, but its save reached the loop after
      // the destroy event: sent now, it would bring the container's record back on the master.
      if (self.destroyed_.contains(doc.value("Id", ""))) return;
      self.tell_running(doc);
      self.master_.call(kSave, json::array({json{{"node", self.node_id_}, {"container", doc}}}), [](Result<json> r) {
        if (!r) logger()->debug("failed to save a container on the master: {}", r.error().message);
      });
    });
  }

  // A service container that runs goes to the services.
  void tell_running(const json& doc) {
    if (services_.empty() || !doc.contains("State") || !doc["State"].is_object() ||
        !doc["State"].value("Running", false) || !doc.contains("Config") || !doc["Config"].is_object())
      return;
    std::map<std::string, std::string> labels;
    if (const auto& l = doc["Config"]["Labels"]; l.is_object()) {
      for (const auto& [k, v] : l.items()) {
        if (v.is_string()) labels[k] = v.get<std::string>();
      }
    }
    auto key = key_of_labels(labels);
    if (!key) return;
    ServiceContainer c;
    c.id = doc.value("Id", "");
    c.name = doc.value("Name", "");
    if (!c.name.empty() && c.name.front() == '/') c.name.erase(0, 1);
    c.service_id = key->service_id;
    c.instance_number = key->instance_number;
    c.inspect = doc;
    for (auto& s : services_) s->on_container_running(c);
  }

  // The health checks' restart: as `kontena service restart` does, unless the container was
  // replaced or restarted since the probe (stale results are ignored).
  void restart_if_current(const PodKey& key, const std::string& container_id, const std::string& started_at) {
    auto it = workers_.find(key);
    if (it == workers_.end()) return;
    on_worker(it->second, [container_id, started_at](Impl& self, const std::shared_ptr<Worker>& w) {
      auto* api = w->api.get(self.host_);
      if (api == nullptr) return;
      auto c = find_pod_container(*api, w->key);
      if (!c || !*c || (*c)->id != container_id || (*c)->started_at != parse_docker_time(started_at)) return;
      w->reconciler.request_restart(container_id);
      self.apply(w);
    });
  }

  // ---- list (loop thread) ----

  void arm_list() {
    if (list_armed_) return;
    list_armed_ = true;
    list_timer_.expires_after(options_.list_interval);
    list_timer_.async_wait([w = weak()](boost::system::error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped_) return;
      self->list_armed_ = false;
      self->request_list();
      self->arm_list();
    });
  }

  void request_list() {
    if (!online_) return;
    if (list_in_flight_) {
      list_again_ = true;
      return;
    }
    list_in_flight_ = true;
    master_.call(kList, json::array({node_id_}), [w = weak()](Result<json> r) {
      auto self = w.lock();
      if (!self || self->stopped_) return;
      self->list_in_flight_ = false;
      self->listed(r);
      if (self->list_again_) {
        self->list_again_ = false;
        self->request_list();
      }
    });
  }

  void listed(const Result<json>& reply) {
    // An error is never an empty list: nothing is removed on a failed answer.
    if (!reply) {
      logger()->warn("failed to list this node's service pods: {}", reply.error().message);
      return;
    }
    auto list = decode_service_pod_list(*reply);
    if (!list) {
      logger()->warn("{}", list.error().message);
      return;
    }
    for (const auto& bad : list->invalid) logger()->warn("{}", bad.failure.message);
    // Containers of pods that are no longer listed are found on Docker, not only among workers.
    post_scan([list = std::move(*list)](Impl& self, docker::ContainerApi& api) mutable {
      auto containers = api.list({std::string(label::container_type) + "=container"});
      if (!containers) {
        logger()->warn("{}", containers.error().message);
        return;
      }
      std::set<PodKey> present;
      for (const auto& c : *containers) {
        if (auto k = key_of_labels(c.labels)) present.insert(*k);
      }
      // A stateful pod's data container outlives its container: one whose pod is gone is
      // terminated too (kontena v1.5.4: agent/lib/kontena/workers/service_pod_manager.rb).
      if (auto data = api.list({std::string(label::container_type) + "=volume"})) {
        for (auto c : *data) {
          c.labels[label::container_type] = "container";  // the pod's key, as its container has it
          if (auto k = key_of_labels(c.labels)) present.insert(*k);
        }
      }
      self.on_loop([list = std::move(list), present = std::move(present)](Impl& s) { s.merge(list, present); });
    });
  }

  void merge(const PodList& list, const std::set<PodKey>& present) {
    std::map<PodKey, const ServicePod*> desired;
    for (const auto& p : list.pods) desired[PodKey{p.service_id, p.instance_number}] = &p;
    std::set<std::string> invalid;
    bool unknown_invalid = false;
    for (const auto& bad : list.invalid) {
      if (bad.key) invalid.insert(*bad.key);
      else unknown_invalid = true;
    }
    for (const auto& [key, pod] : desired) dispatch(key, *pod);
    // Pods gone from the list (and containers no pod claims) are terminated, unless a pod we
    // could not read might be theirs.
    if (unknown_invalid) return;
    std::set<PodKey> orphans(present);
    for (const auto& [key, worker] : workers_) orphans.insert(key);
    for (const auto& key : orphans) {
      if (desired.contains(key) || invalid.contains(key.str())) continue;
      dispatch(key, std::nullopt);
    }
  }

  std::shared_ptr<Worker> worker(const PodKey& key) {
    auto& w = workers_[key];
    if (!w) w = std::make_shared<Worker>(key, asio::make_strand(pool_->get_executor()), *clock_, loop_);
    return w;
  }

  void dispatch(const PodKey& key, std::optional<ServicePod> desired) {
    auto w = worker(key);
    w->wanted = desired;
    on_worker(w, [desired = std::move(desired)](Impl& self, const std::shared_ptr<Worker>& wp) mutable {
      wp->desired = std::move(desired);
      self.apply(wp);
    });
  }

  // A job on the worker's strand, if the manager and the worker still exist when it runs.
  template <class F>
  void on_worker(const std::shared_ptr<Worker>& w, F f) {
    asio::post(w->strand, [self = weak(), ww = std::weak_ptr<Worker>(w), f = std::move(f)]() mutable {
      auto s = self.lock();
      auto wp = ww.lock();
      if (!s || !wp || s->stopped_) return;
      f(*s, wp);
    });
  }

  // ---- a pod's worker (its strand) ----

  void apply(const std::shared_ptr<Worker>& w) {
    auto* api = w->api.get(host_);
    if (api == nullptr) return;  // retried on the next list or when dockerd is back
    ReportSink sink;
    sink.set_state = [this, ww = std::weak_ptr<Worker>(w)](const SetState& s) {
      on_loop([ww, s](Impl& self) {
        self.master_.call(kSetState, json::array({self.node_id_, s.to_json()}),
                          [wk = self.weak(), ww, s](Result<json> r) {
                            auto alive = wk.lock();
                            auto wp = ww.lock();
                            if (!alive || !wp || alive->stopped_) return;
                            if (!r) logger()->warn("failed to report the state of {}: {}", wp->key.str(), r.error().message);
                            alive->on_worker(wp, [s, ok = r.has_value()](Impl&, const std::shared_ptr<Worker>& w2) {
                              w2->reconciler.sent(s, ok);
                            });
                          });
      });
    };
    sink.event = [this](const PodEvent& e) {
      on_loop([e](Impl& self) { self.master_.notify(kPodEvent, json::array({self.node_id_, e.to_json()})); });
    };
    sink.node_id = node_id_;
    sink.stopping = [this] { return stopped_.load(); };
    sink.call_master = [this](const std::string& method, const json& params) { return call_master(method, params); };
    sink.log_batch = [this](const std::vector<LogLine>& lines) {
      json batch = json::array();
      for (const auto& l : lines) batch.push_back(l.to_json());
      on_loop([batch = std::move(batch)](Impl& self) { self.master_.notify(kLogBatch, json::array({batch})); });
    };
    ApplyOptions apply_options;
    if (options_.wait_for_port_limit) apply_options.wait_for_port_limit = *options_.wait_for_port_limit;
    apply_options.port_wait = &w->port_wait;
    apply_options.stopping = &stopped_;
    const auto outcome = apply_pod(*api, w->reconciler, w->key, w->desired, sink, apply_options);
    w->api.check(outcome.failure);
    if (outcome.wake_at || outcome.retry_in) {
      const auto delay = outcome.retry_in ? std::chrono::duration_cast<Clock::duration>(*outcome.retry_in)
                                          : *outcome.wake_at - clock_->now();
      w->timer.expires_after(std::max<Clock::duration>(delay, Clock::duration::zero()));
      // The wait completes on the loop holding weak references only, then hops onto the strand:
      // a wait still queued when the loop is torn down holds nothing of the pool (a handler
      // bound to the strand would, and the pool is gone by then).
      w->timer.async_wait([self = weak(), ww = std::weak_ptr<Worker>(w)](boost::system::error_code ec) {
        auto s = self.lock();
        auto wp = ww.lock();
        if (ec || !s || !wp || s->stopped_) return;
        asio::post(wp->strand, [self, ww] {
          auto s2 = self.lock();
          auto w2 = ww.lock();
          if (!s2 || !w2 || s2->stopped_) return;
          s2->apply(w2);
        });
      });
    }
    if (outcome.gone) {
      on_loop([key = w->key, ww = std::weak_ptr<Worker>(w)](Impl& self) {
        auto it = self.workers_.find(key);
        if (it != self.workers_.end() && it->second == ww.lock() && !it->second->wanted) self.workers_.erase(it);
      });
    }
  }

  // A worker's blocking request (oneshot hooks): made on the loop, waited for here. The wait
  // is bounded and ends when the manager stops, whose stop() on the loop joins the workers.
  Result<json> call_master(const std::string& method, const json& params) {
    struct Answer {
      std::mutex mutex;
      std::condition_variable done;
      std::optional<Result<json>> result;
    };
    auto answer = std::make_shared<Answer>();
    on_loop([method, params, answer](Impl& self) {
      self.master_.call(method, params, [answer](Result<json> r) {
        const std::lock_guard lock(answer->mutex);
        answer->result = std::move(r);
        answer->done.notify_all();
      });
    });
    const auto deadline = std::chrono::steady_clock::now() + kMasterCallLimit;
    std::unique_lock lock(answer->mutex);
    while (!answer->result) {
      if (stopped_) return fail(Errc::stopped, fmt::format("failed to call {} on the master: the agent stops", method));
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(Errc::master_unavailable, fmt::format("failed to call {} on the master: no answer within {} s",
                                                          method, kMasterCallLimit.count()));
      }
      answer->done.wait_for(lock, std::chrono::milliseconds(100));
    }
    return std::move(*answer->result);
  }

  void restart(const PodKey& key) {
    auto it = workers_.find(key);
    if (it == workers_.end()) {
      logger()->warn("failed to restart service instance {}: no such pod on this node", key.str());
      return;
    }
    on_worker(it->second, [](Impl& self, const std::shared_ptr<Worker>& w) {
      auto* api = w->api.get(self.host_);
      if (api == nullptr) return;
      auto c = find_pod_container(*api, w->key);
      if (c && *c) w->reconciler.request_restart((*c)->id);
      self.apply(w);
    });
  }

  // ---- Docker events (own thread, then the loop) ----

  void follow_events() {
    const json filters{{"type", json::array({"container"})}};
    bool reopened = false;
    auto retry = options_.docker_retry;
    while (!stopped_) {
      // Wait for the engine (it may be restarting), then reconcile everything: no restart
      // policy brings the containers back by itself. An engine that stays away is asked less
      // and less often (up to kMaxDockerRetry): an idle node without Docker stays idle.
      auto api = docker::ContainerApi::connect(host_);
      if (!api) {
        std::unique_lock lock(idle_mutex_);
        idle_cv_.wait_for(lock, retry, [this] { return stopped_.load(); });
        retry = std::max(options_.docker_retry, std::min(retry * 2, kMaxDockerRetry));
        continue;
      }
      retry = options_.docker_retry;
      if (reopened) {
        logger()->info("Docker engine is back: reconciling every pod");
        on_loop([](Impl& self) { self.reconcile_all(); });
      }
      reopened = true;
      auto status = docker::follow_events(
          host_, filters, [this](const json& ev) { on_loop([ev](Impl& self) { self.container_event(ev); }); },
          events_stop_);
      if (!status && !stopped_) logger()->warn("Docker event stream ended: {}", status.error().message);
    }
  }

  void reconcile_all() {
    for (const auto& [key, w] : workers_) dispatch(key, w->wanted);
    request_list();
  }

  void container_event(const json& ev) {
    const std::string id = ev.value("id", ev.contains("Actor") ? ev["Actor"].value("ID", "") : "");
    const std::string status = ev.value("status", ev.value("Action", ""));
    if (id.empty() || status.empty()) return;
    master_.call(kContainerEvent,
                 json::array({json{{"id", id}, {"status", status}, {"from", ev.value("from", "")},
                                   {"time", ev.value("time", 0)}}}),
                 [](Result<json> r) {
                   if (!r) logger()->debug("failed to send a container event: {}", r.error().message);
                 });
    if (status != "destroy") {
      post_scan([id](Impl& self, docker::ContainerApi& api) { self.save_container(api, id); });
    } else {
      remember_destroyed(id);
    }
    if (status == "die" || status == "destroy") {
      for (auto& s : services_) s->on_container_stopped(id);
    }
    if (status != "die") return;
    std::map<std::string, std::string> attributes;
    if (ev.contains("Actor") && ev["Actor"].contains("Attributes") && ev["Actor"]["Attributes"].is_object()) {
      for (const auto& [k, v] : ev["Actor"]["Attributes"].items()) {
        if (v.is_string()) attributes[k] = v.get<std::string>();
      }
    }
    auto key = key_of_labels(attributes);
    if (!key) return;
    auto it = workers_.find(*key);
    if (it == workers_.end()) return;
    const auto nanos = ev.contains("timeNano") && ev["timeNano"].is_number()
                           ? ev["timeNano"].get<std::int64_t>()
                           : ev.value("time", std::int64_t{0}) * 1000000000;
    const WallTime at{std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos))};
    std::optional<long> exit_code;
    if (auto e = attributes.find("exitCode"); e != attributes.end()) {
      long v = 0;
      if (std::from_chars(e->second.data(), e->second.data() + e->second.size(), v).ec == std::errc()) exit_code = v;
    }
    on_worker(it->second, [id, at, exit_code](Impl& self, const std::shared_ptr<Worker>& w) {
      auto* api = w->api.get(self.host_);
      if (api == nullptr) return;
      auto current = find_pod_container(*api, w->key);
      if (!current || !*current) return;
      if (auto crash = w->reconciler.died(w->desired, **current, id, at, exit_code)) {
        logger()->info("{}", crash->data);
        self.on_loop([e = *crash](Impl& m) { m.master_.notify(kPodEvent, json::array({m.node_id_, e.to_json()})); });
        self.apply(w);
      }
    });
  }

  // Container IDs are never reused, so a destroyed one is never saved again. A save still on
  // its way when the destroy arrives is the only case, so the last few hundred IDs are enough.
  void remember_destroyed(const std::string& id) {
    if (!destroyed_.insert(id).second) return;
    destroyed_order_.push_back(id);
    if (destroyed_order_.size() > kDestroyedKept) {
      destroyed_.erase(destroyed_order_.front());
      destroyed_order_.pop_front();
    }
  }

  // ---- cleanup (loop timer, scan strand) ----

  void arm_cleanup() {
    cleanup_timer_.expires_after(options_.cleanup_interval);
    cleanup_timer_.async_wait([w = weak()](boost::system::error_code ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped_) return;
      self->post_scan([](Impl& s, docker::ContainerApi& api) {
        auto list = api.list({});
        if (!list) return;
        std::set<std::string> now;
        for (const auto& c : *list) now.insert(c.id);
        std::vector<std::string> gone;
        for (const auto& id : s.known_ids_) {
          if (!now.contains(id)) gone.push_back(id);
        }
        s.known_ids_ = std::move(now);
        s.on_loop([gone = std::move(gone)](Impl& self2) {
          self2.pending_cleanup_.insert(gone.begin(), gone.end());
          self2.send_cleanup();
        });
      });
      self->arm_cleanup();
    });
  }

  void send_cleanup() {
    if (pending_cleanup_.empty() || !online_) return;
    std::vector<std::string> ids(pending_cleanup_.begin(), pending_cleanup_.end());
    master_.call(kCleanup, json::array({node_id_, ids}), [w = weak(), ids](Result<json> r) {
      auto self = w.lock();
      if (!self || !r) return;  // kept for the next round
      for (const auto& id : ids) self->pending_cleanup_.erase(id);
    });
  }

  asio::any_io_executor loop_;
  std::string host_;
  std::string node_id_;
  MasterPort& master_;
  PodManagerOptions options_;
  SteadyClock steady_;
  Clock* clock_;
  std::unique_ptr<asio::thread_pool> pool_;  // declared before workers_: outlives their strands
  Strand scan_;
  ApiSlot scan_api_;                  // scan strand
  std::set<std::string> known_ids_;   // scan strand
  asio::steady_timer list_timer_;
  asio::steady_timer cleanup_timer_;
  std::map<PodKey, std::shared_ptr<Worker>> workers_;  // loop
  std::set<std::string> pending_cleanup_;              // loop
  static constexpr std::size_t kDestroyedKept = 256;
  std::set<std::string> destroyed_;                    // loop: remember_destroyed
  std::deque<std::string> destroyed_order_;            // loop: oldest first
  std::vector<std::shared_ptr<RuntimeService>> services_;  // loop (fixed after start)
  bool online_ = false, list_in_flight_ = false, list_again_ = false, list_armed_ = false;
  std::atomic<bool> stopped_{false};
  http::StreamInterrupt events_stop_;            // ends the event stream at once
  std::mutex idle_mutex_;                        // with idle_cv_: the wait for an absent engine
  std::condition_variable idle_cv_;
  std::thread events_;
};

PodManager::PodManager(asio::any_io_executor loop, std::string docker_host, std::string node_id, MasterPort& master,
                       PodManagerOptions options)
    : impl_(std::make_shared<Impl>(std::move(loop), std::move(docker_host), std::move(node_id), master, options)) {}

PodManager::~PodManager() { impl_->stop(); }

std::set<std::string> PodManager::served_methods() const { return impl_->served_methods(); }
void PodManager::add_service(std::shared_ptr<RuntimeService> service) { impl_->add_service(std::move(service)); }
RuntimeContext PodManager::context() const { return impl_->context(); }

void PodManager::start() { impl_->start(); }
void PodManager::stop() { impl_->stop(); }
void PodManager::on_master_call(std::optional<std::uint32_t> request_id, const std::string& method, const json& params,
                                std::function<void(Result<json>)> reply) {
  impl_->on_master_call(request_id, method, params, reply);
}
void PodManager::on_master_info() { impl_->on_master_info(); }
void PodManager::on_node_info() { impl_->on_node_info(); }
void PodManager::on_link_lost() { impl_->on_link_lost(); }
std::size_t PodManager::worker_count() const { return impl_->worker_count(); }

}  // namespace kn::runtime

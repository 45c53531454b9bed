#include "runtime/health_checker.hpp"

#include "core/logging.hpp"
#include "http/curl_transport.hpp"
#include "runtime/port_probe.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include <atomic>
#include <charconv>

namespace kn::runtime {

namespace asio = boost::asio;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("health"); }

std::optional<std::string> label_text(const json& labels, const char* key) {
  if (!labels.is_object()) return std::nullopt;
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// A whole number of seconds from a label, or `fallback` when the label is absent or empty.
Result<long> label_number(const json& labels, const char* key, long fallback, long minimum, long maximum) {
  auto text = label_text(labels, key);
  if (!text || text->empty()) return fallback;
  long value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < minimum || value > maximum) {
    return fail(Errc::pod_invalid, fmt::format("failed to read the health check label {}={:?}: expected a whole "
                                               "number from {} to {}; fix the service's health_check",
                                               key, *text, minimum, maximum));
  }
  return value;
}

}  // namespace

Result<std::optional<HealthCheckSpec>> parse_health_check(const json& labels) {
  auto protocol = label_text(labels, health_label::protocol);
  if (!protocol || protocol->empty()) return std::optional<HealthCheckSpec>();
  HealthCheckSpec spec;
  if (*protocol == "http") {
    spec.protocol = HealthCheckSpec::Protocol::http;
  } else if (*protocol == "tcp") {
    spec.protocol = HealthCheckSpec::Protocol::tcp;
  } else {
    return fail(Errc::pod_invalid, fmt::format("failed to read the health check label {}={:?}: expected http or tcp; "
                                               "fix the service's health_check",
                                               health_label::protocol, *protocol));
  }
  if (auto uri = label_text(labels, health_label::uri); uri && !uri->empty()) spec.uri = *uri;
  auto port = label_number(labels, health_label::port, 0, 1, 65535);
  if (!port) return port.error();
  if (*port == 0) {
    return fail(Errc::pod_invalid, fmt::format("failed to read the health check: no {} label; give the service's "
                                               "health_check a port",
                                               health_label::port));
  }
  spec.port = static_cast<int>(*port);
  constexpr long kDay = 86400;
  auto interval = label_number(labels, health_label::interval, spec.interval.count(), 1, kDay);
  if (!interval) return interval.error();
  auto timeout = label_number(labels, health_label::timeout, spec.timeout.count(), 1, kDay);
  if (!timeout) return timeout.error();
  auto delay = label_number(labels, health_label::initial_delay, spec.initial_delay.count(), 0, kDay);
  if (!delay) return delay.error();
  spec.interval = std::chrono::seconds(*interval);
  spec.timeout = std::chrono::seconds(*timeout);
  spec.initial_delay = std::chrono::seconds(*delay);
  return std::optional<HealthCheckSpec>(spec);
}

json HealthResult::to_json() const {
  return json{{"id", container_id}, {"status", healthy ? "healthy" : "unhealthy"}, {"status_code", status_code}};
}

struct HealthChecker::Pool {
  explicit Pool(std::size_t threads) : pool(threads == 0 ? 1 : threads) {}
  asio::thread_pool pool;
};

// One container's check. The timer and the HTTP transport belong to the strand; the rest is
// fixed when the check is made. Queued handlers hold weak references: only checks_ owns it.
struct HealthChecker::Check {
  using Strand = asio::strand<asio::thread_pool::executor_type>;
  explicit Check(Strand s) : strand(std::move(s)), timer(strand) {}
  std::string container_id, name, service_id, started_at, address;
  int instance_number = 0;
  HealthCheckSpec spec;
  Strand strand;
  asio::steady_timer timer;
  SteadyClock::time_point due;
  std::unique_ptr<http::CurlTransport> http;
  std::atomic<bool> cancelled{false};
  asio::any_io_executor loop;           // where results are reported
  std::weak_ptr<HealthChecker> owner;   // locked on the loop only
};

HealthChecker::HealthChecker(RuntimeContext context, HealthCheckerOptions options)
    : context_(std::move(context)), pool_(std::make_unique<Pool>(options.threads)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::on_container_running(const ServiceContainer& container) {
  if (stopped_) return;
  const json& inspect = container.inspect;
  const json labels = inspect.contains("Config") && inspect["Config"].is_object()
                          ? inspect["Config"].value("Labels", json::object())
                          : json::object();
  auto spec = parse_health_check(labels);
  if (!spec) {
    logger()->warn("container {}: {}", container.name, spec.error().message);
    return;
  }
  if (!*spec) return;
  const std::string started_at = inspect.contains("State") && inspect["State"].is_object()
                                     ? inspect["State"].value("StartedAt", std::string())
                                     : std::string();
  if (auto it = checks_.find(container.id); it != checks_.end()) {
    if (it->second->started_at == started_at) return;  // told again about the same run
    cancel(it->second);                                 // restarted: a new run, a new initial delay
    checks_.erase(it);
  }
  auto address = probe_address(inspect);
  if (!address) {
    // Restarting cannot give it an address, so it is not checked (Kontena would probe "http://:port"
    // and restart it every interval).
    logger()->warn("container {}: not health-checked: it has no address of its own on a Docker network "
                   "(net none or container:); give the service net bridge or host",
                   container.name);
    return;
  }
  auto check = std::make_shared<Check>(asio::make_strand(pool_->pool.get_executor()));
  check->container_id = container.id;
  check->name = container.name;
  check->service_id = container.service_id;
  check->instance_number = container.instance_number;
  check->started_at = started_at;
  check->address = *address;
  check->spec = **spec;
  check->loop = context_.loop;
  check->owner = weak_from_this();
  checks_[container.id] = check;
  logger()->info("container {}: {} health check of {}:{}{} in {} s, then every {} s", container.name,
                 check->spec.protocol == HealthCheckSpec::Protocol::http ? "http" : "tcp", check->address,
                 check->spec.port,
                 check->spec.protocol == HealthCheckSpec::Protocol::http ? check->spec.uri : std::string(),
                 check->spec.initial_delay.count(), check->spec.interval.count());
  arm(check, SteadyClock::now() + check->spec.initial_delay);
}

void HealthChecker::on_container_stopped(const std::string& container_id) {
  auto it = checks_.find(container_id);
  if (it == checks_.end()) return;
  cancel(it->second);
  checks_.erase(it);
}

void HealthChecker::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [id, check] : checks_) cancel(check);
  pool_->pool.stop();
  pool_->pool.join();
  checks_.clear();
}

// Dropping the last reference cancels the timer; a probe under way sees the flag within 100 ms.
void HealthChecker::cancel(const std::shared_ptr<Check>& check) { check->cancelled = true; }

// Runs on the check's strand from here on. The owner is locked on the loop only: its last
// reference must never go away on a pool thread (its destructor joins the pool).
void HealthChecker::arm(const std::shared_ptr<Check>& check, SteadyClock::time_point at) {
  asio::post(check->strand, [c = std::weak_ptr<Check>(check), at] {
    auto armed = c.lock();
    if (!armed || armed->cancelled) return;
    armed->due = at;
    armed->timer.expires_at(at);
    armed->timer.async_wait([c](boost::system::error_code ec) {
      auto due = c.lock();
      if (ec || !due || due->cancelled) return;
      probe(due);
    });
  });
}

void HealthChecker::probe(const std::shared_ptr<Check>& check) {
  HealthResult result{check->container_id};
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(check->spec.timeout);
  if (check->spec.protocol == HealthCheckSpec::Protocol::http) {
    if (!check->http) check->http = std::make_unique<http::CurlTransport>();
    auto probe = http_probe(*check->http, check->address, check->spec.port, check->spec.uri, timeout,
                            &check->cancelled);
    result.healthy = probe.healthy;
    result.status_code = probe.status ? json(*probe.status) : json("");
    if (!probe.status) logger()->debug("container {}: health check: {}", check->name, probe.error);
  } else {
    result.healthy = tcp_port_open(check->address, check->spec.port, timeout, &check->cancelled);
    result.status_code = result.healthy ? "open" : "closed";
  }
  if (check->cancelled) return;
  asio::post(check->loop, [owner = check->owner, c = std::weak_ptr<Check>(check), result] {
    auto self = owner.lock();
    auto current = c.lock();
    if (self && current) self->report(current, result);
  });
  // Every `interval` from the first probe: a slow probe does not shift the schedule, and a
  // late one does not make a burst.
  auto next = check->due + check->spec.interval;
  if (next < SteadyClock::now()) next = SteadyClock::now() + check->spec.interval;
  arm(check, next);
}

void HealthChecker::report(const std::shared_ptr<Check>& check, const HealthResult& result) {
  auto it = checks_.find(check->container_id);
  if (stopped_ || it == checks_.end() || it->second != check) return;  // stopped or replaced meanwhile
  if (context_.master != nullptr) {
    context_.master->call(kHealth, json::array({result.to_json()}), [name = check->name](Result<json> r) {
      if (!r) logger()->debug("container {}: /containers/health not delivered: {}", name, r.error().message);
    });
  }
  if (result.healthy) return;
  logger()->info("container {} is unhealthy ({} health check of {}:{}, status {}): restarting it", check->name,
                 check->spec.protocol == HealthCheckSpec::Protocol::http ? "http" : "tcp", check->address,
                 check->spec.port, result.status_code.dump());
  if (context_.restart_instance) {
    context_.restart_instance(check->service_id, check->instance_number, check->container_id, check->started_at);
  }
}

}  // namespace kn::runtime

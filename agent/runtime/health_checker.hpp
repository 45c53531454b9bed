// Health checks of service containers, as Kontena runs them (kontena v1.5.4:
// agent/lib/kontena/workers/container_health_check_worker.rb): a container labelled
// io.kontena.health_check.protocol is probed `initial_delay` seconds after it started, then
// every `interval` seconds, each probe bounded by `timeout`; every result goes to the master
// as the request /containers/health [{id, status, status_code}], and an unhealthy container
// is restarted like a crashed one (the PodManager ignores the restart once the container was
// replaced or restarted since). The probe target is the container's own address
// (runtime/port_probe.hpp). Checks end when the container stops.
//
// The master's defaults for a service's health_check (kontena v1.5.4:
// server/app/mutations/grid_services/common.rb): timeout 10, interval 60, initial_delay 10.
#pragma once

#include "core/error.hpp"
#include "runtime/runtime_service.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kn::runtime {

namespace health_label {
inline constexpr const char* protocol = "io.kontena.health_check.protocol";
inline constexpr const char* uri = "io.kontena.health_check.uri";
inline constexpr const char* port = "io.kontena.health_check.port";
inline constexpr const char* interval = "io.kontena.health_check.interval";
inline constexpr const char* timeout = "io.kontena.health_check.timeout";
inline constexpr const char* initial_delay = "io.kontena.health_check.initial_delay";
}  // namespace health_label

struct HealthCheckSpec {
  enum class Protocol { http, tcp };
  Protocol protocol = Protocol::http;
  std::string uri = "/";
  int port = 0;
  std::chrono::seconds interval{60};
  std::chrono::seconds timeout{10};
  std::chrono::seconds initial_delay{10};
  bool operator==(const HealthCheckSpec&) const = default;
};

// From a container's Config.Labels. nullopt: no health check (no protocol label).
// Errc::pod_invalid: a protocol other than http|tcp, a port outside 1-65535, or an interval,
// timeout or initial_delay that is not a whole number of seconds (interval and timeout > 0).
Result<std::optional<HealthCheckSpec>> parse_health_check(const nlohmann::json& labels);

// One /containers/health entry. status_code: the HTTP status; "open"/"closed" for tcp; ""
// when no HTTP answer came (the shapes the Ruby agent sends).
struct HealthResult {
  std::string container_id;
  bool healthy = false;
  nlohmann::json status_code = "";
  nlohmann::json to_json() const;
};

struct HealthCheckerOptions {
  std::size_t threads = 2;  // probes block for up to their timeout; checks share these threads
};

class HealthChecker : public RuntimeService, public std::enable_shared_from_this<HealthChecker> {
 public:
  static constexpr const char* kHealth = "/containers/health";

  explicit HealthChecker(RuntimeContext context, HealthCheckerOptions options = {});
  ~HealthChecker() override;
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void on_container_running(const ServiceContainer& container) override;
  void on_container_stopped(const std::string& container_id) override;
  void stop() override;

  // Containers being checked (loop thread).
  std::size_t checked_containers() const { return checks_.size(); }

 private:
  struct Check;
  static void arm(const std::shared_ptr<Check>& check, std::chrono::steady_clock::time_point at);
  static void probe(const std::shared_ptr<Check>& check);
  void report(const std::shared_ptr<Check>& check, const HealthResult& result);
  void cancel(const std::shared_ptr<Check>& check);

  RuntimeContext context_;
  struct Pool;
  std::unique_ptr<Pool> pool_;
  std::map<std::string, std::shared_ptr<Check>> checks_;  // by container id; loop thread
  bool stopped_ = false;
};

}  // namespace kn::runtime

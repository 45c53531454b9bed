// A day-two service of the node runtime (logs, health checks, stats, exec, volumes): it serves
// some of the master's methods and follows the service containers' lifecycle. The PodManager
// owns the list of services, routes the master's calls to them and tells them which service
// containers run; each service does its own Docker I/O off the loop.
//
// Every member is called on the loop's thread (the executor in RuntimeContext).
#pragma once

#include "core/error.hpp"
#include "runtime/master_port.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>

namespace kn::runtime {

// A service container of a pod (io.kontena.container.type=container with a service id).
struct ServiceContainer {
  std::string id;                    // full Docker id
  std::string name;                  // without the leading '/'
  std::string service_id;
  int instance_number = 0;
  nlohmann::json inspect;            // GET /containers/ID/json at the time it was seen running
};

// What the PodManager hands to each service.
struct RuntimeContext {
  boost::asio::any_io_executor loop;
  std::string docker_host;           // as EngineClient::connect takes it
  std::string node_id;
  MasterPort* master = nullptr;      // use on the loop only
  std::filesystem::path state_dir;   // KONTENA_STATE_DIR: the service may keep files below it
  // Restart this instance the way a crash restarts it, unless its container was replaced or
  // restarted since (`container_id` and its State.StartedAt as Docker wrote it).
  std::function<void(const std::string& service_id, int instance_number, const std::string& container_id,
                     const std::string& started_at)>
      restart_instance;
};

class RuntimeService {
 public:
  virtual ~RuntimeService() = default;
  // The master methods this service answers (requests and notifications).
  virtual std::set<std::string> methods() const { return {}; }
  // request_id set: `reply` must be called exactly once (on any thread is not allowed: on the loop).
  virtual void on_master_call(std::optional<std::uint32_t> request_id, const std::string& method,
                              const nlohmann::json& params, std::function<void(Result<nlohmann::json>)> reply) {
    (void)request_id, (void)method, (void)params;
    if (reply) reply(fail(Errc::usage, "failed to serve " + method + ": not implemented"));
  }
  // A service container runs (seen started, or found running after a (re)connect or agent
  // start). May be told more than once for the same id: be idempotent.
  virtual void on_container_running(const ServiceContainer& container) { (void)container; }
  // The container stopped (die) or was removed (destroy); told once per event.
  virtual void on_container_stopped(const std::string& container_id) { (void)container_id; }
  // The master link: node_info was accepted (online), or the connection was lost.
  virtual void on_online() {}
  virtual void on_offline() {}
  // The agent stops: end background work and join its threads. Called once, on the loop.
  virtual void stop() {}
};

}  // namespace kn::runtime

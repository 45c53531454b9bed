// The node's runtime service: asks the master for this node's service pods, runs one serial
// worker per pod (an Asio strand on a small thread pool, so Docker calls never block the master
// link's loop), follows Docker's container events and reports containers and pod states back.
// The master side is kontena v1.5.4: server/app/services/rpc/node_service_pod_handler.rb and
// container_handler.rb; the node side mirrors agent/lib/kontena/workers/service_pod_manager.rb.
//
// Every public member is called on `loop`'s thread; the MasterPort is used on it too. Destroy
// the PodManager on that thread, or after the loop has stopped.
#pragma once

#include "core/clock.hpp"
#include "runtime/master_port.hpp"
#include "runtime/runtime_service.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace kn::runtime {

struct PodManagerOptions {
  std::chrono::milliseconds list_interval{30000};     // /node_service_pods/list
  std::chrono::milliseconds cleanup_interval{20000};  // /containers/cleanup
  std::chrono::milliseconds docker_retry{1000};       // re-open the event stream after dockerd went away
  std::size_t threads = 2;                            // Docker workers (pods share them, one at a time each)
  Clock* clock = nullptr;                             // crash backoff; nullptr: the steady clock
  std::filesystem::path state_dir;                    // handed to the services (RuntimeContext)
  std::optional<std::chrono::milliseconds> wait_for_port_limit;  // unset: kWaitForPortLimit (executor.hpp)
};

class PodManager {
 public:
  PodManager(boost::asio::any_io_executor loop, std::string docker_host, std::string node_id, MasterPort& master,
             PodManagerOptions options = {});
  ~PodManager();
  PodManager(const PodManager&) = delete;
  PodManager& operator=(const PodManager&) = delete;

  // The master methods this runtime answers, its services' included (the link answers the
  // others with 501).
  std::set<std::string> served_methods() const;

  // A day-two service (logs, health, ...): gets its methods routed and the service containers'
  // lifecycle. Call before start(); the PodManager stops it.
  void add_service(std::shared_ptr<RuntimeService> service);
  // What the services are built with.
  RuntimeContext context() const;

  // Follows Docker's events and starts the cleanup schedule. Pods are applied after the first
  // successful list (which needs node_info), so a restarted agent adopts its containers.
  void start();
  // Stops the schedules and the event stream; waits for the Docker calls under way.
  void stop();

  // A master request (request_id set: `reply` must be called) or notification of served_methods().
  void on_master_call(std::optional<std::uint32_t> request_id, const std::string& method, const nlohmann::json& params,
                      std::function<void(Result<nlohmann::json>)> reply);
  void on_master_info();  // /containers/save for every container (the master forgot them)
  void on_node_info();    // the first list; then every list_interval
  void on_link_lost();

  // Pods with a worker (listed, or containers being removed).
  std::size_t worker_count() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kn::runtime

// Probes of a service container's own address, shared by the health checks and wait_for_port
// (kontena v1.5.4: agent/lib/kontena/helpers/port_helper.rb, workers/container_health_check_worker.rb).
// Both block the calling thread for at most `timeout`: call them off the loop.
#pragma once

#include "http/http_transport.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace kn::runtime {

// Where to reach a container from the host: 127.0.0.1 with `NetworkMode: host`, otherwise
// NetworkSettings.IPAddress or the first non-empty NetworkSettings.Networks.*.IPAddress (Kontena
// probes the weave overlay address; this node has no overlay, so the Docker network's address
// is the one the host can reach). nullopt: the container has no address of its own
// (`none`, `container:<id>`, or not started).
std::optional<std::string> probe_address(const nlohmann::json& inspect);

// A TCP connect to address:port within `timeout`; true when it was accepted. `cancel` (may be
// null) ends the wait early, within about 100 ms, as a closed port.
bool tcp_port_open(const std::string& address, int port, std::chrono::milliseconds timeout,
                   const std::atomic<bool>* cancel = nullptr);

struct HttpProbe {
  bool healthy = false;
  std::optional<long> status;  // the HTTP status, when an answer came
  std::string error;           // the transport failure otherwise
};
// GET http://address:port<uri> without redirects and without a proxy; 200-399 is healthy.
// The body is not read past its first piece (a health page may be large).
// `cancel` as for tcp_port_open.
HttpProbe http_probe(http::Transport& transport, const std::string& address, int port, const std::string& uri,
                     std::chrono::milliseconds timeout, const std::atomic<bool>* cancel = nullptr);

}  // namespace kn::runtime

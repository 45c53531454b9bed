// The master's RPC handlers for the service side, as agents call them (kontena v1.5.4:
// server/app/services/rpc/node_service_pod_handler.rb, container_handler.rb,
// container_info_mapper.rb):
//   /node_service_pods/list [node_id] -> {service_pods: [pod...]}; "Node not found"
//   /node_service_pods/set_state [node_id, {service_id, instance_number, rev, state, error}] -> {}
//   /node_service_pods/mark_oneshot_hook [node_id, {service_id, instance_number}, hook] -> {}
//   /node_service_pods/event [node_id, {service_id, instance_number, severity, type, data}] (event log)
//   /containers/save [{node, container}] -> {}; /containers/event [{id, status, ...}] -> {}
//   /containers/cleanup [node_id, [ids]] -> count; /containers/health [{id, status}]
//   /containers/log_batch (stored: container_logs.hpp), /containers/stat (latest per container: container_stats.hpp)
// Errors come back as RpcServer#handle_request shapes them: {code: 500, message: "Class: msg"}.
#pragma once

#include "sim_state.hpp"

#include <optional>
#include <string>

namespace kn::master_sim {

// {code: 500, message: "<klass>: <message>"}: a Ruby exception raised in a master handler.
Json ruby_error(const std::string& message, const std::string& klass = "RuntimeError");

// The response for a request this module serves; nullopt when the method is not one of its.
std::optional<rpc::Response> handle_service_request(SimState& state, const std::string& grid,
                                                    const rpc::Request& request);
// True when the notification was one of its methods.
bool handle_service_notification(SimState& state, const std::string& grid, const rpc::Notification& note);

}  // namespace kn::master_sim

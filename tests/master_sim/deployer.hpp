// The master's deploy machinery over the agents' connections, on the simulator's one
// io_context (kontena v1.5.4: server/app/jobs/grid_service_scheduler_worker.rb,
// server/app/services/grid_service_deployer.rb, grid_service_instance_deployer.rb,
// server/app/jobs/grid_scheduler_job.rb, server/app/services/grid_scheduler.rb,
// server/app/mutations/grid_services/{start,stop,delete}.rb,
// server/app/jobs/stack_remove_worker.rb).
//
// A deploy: deploy_rev = the start time as Time#to_s; candidates = the grid's connected nodes;
// count and placement from the scheduler; instances above the count are dropped without
// telling their node; then instance by instance (the real master runs a few at once only
// for 10 or more instances; the simulator runs them one after another): set host_node,
// deploy_rev, desired_state running and rev nil, send the REQUEST /service_pods/notify_update
// [[]] (notify_timeout, 5 s: an error reply, 501 included, or no reply fails the instance),
// then poll (deploy_poll, 0.5 s) up to deploy_timeout (300 s) for a set_state with
// rev >= deploy_rev (string comparison); an error, a newer rev or a state other than
// desired fails it. The first failed instance halts the deploy.
#pragma once

#include "sim_state.hpp"

#include <cstdint>
#include <string>

namespace kn::master_sim {

// GridServices::Deploy: the service becomes `running` and a deploy is queued; it starts at
// once unless another deploy of the service runs, then after it. Returns the deploy id.
std::uint64_t request_deploy(SimState& state, Service& service);
// GridServices::Start / Stop: desired state of the service and every instance, then the
// notification /service_pods/notify_update ["start"] / ["stop"] to each instance's node.
void start_service(SimState& state, Service& service);
void stop_service(SimState& state, Service& service);
// GridServices::Delete: the service and its instances go, then each instance's node gets
// /service_pods/notify_update ["terminate"].
void delete_service(SimState& state, const std::string& service_id);
// StackRemoveWorker: every service of the stack is stopped, then every one is deleted.
void remove_stack(SimState& state, const std::string& grid, const std::string& stack);

// Starts the GridSchedulerJob loop (every scheduler_interval, 20 s): a running stateless
// service that is not deploying and whose instance count or placement differs from what
// the scheduler picks now (a new node matches a daemon service, a node is gone past the
// strategy's grace period) gets a deploy.
void start_service_jobs(SimState& state);

void log_service_event(Service& service, int severity, std::string type, std::string msg);

}  // namespace kn::master_sim

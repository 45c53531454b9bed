// REST routes of the service side (JSON in and out; the bearer API token applies as for
// /v1/grids). Services are defined at run time; the read-out has the shape of
// `kontena service show`. Modelled on the real master's routes where it has them.
//
//   POST   /v1/grids/{grid}/stacks                 {name, services: [SERVICE...], deploy?: true}
//          -> 201 {id: "grid/stack", name, services: [READOUT...], deploys: [deploy id...]}
//          (`kontena stack install`: creates the services, then deploys each unless deploy is false)
//   GET    /v1/stacks/{grid}/{stack}                -> 200 {id, name, services: [READOUT...]}
//   POST   /v1/stacks/{grid}/{stack}/deploy         -> 200 {deploys: [deploy id...]}
//   DELETE /v1/stacks/{grid}/{stack}                -> 200 {} (`kontena stack rm`: every service
//          stopped with /service_pods/notify_update ["stop"], then deleted with ["terminate"])
//   GET    /v1/grids/{grid}/services                -> 200 {services: [READOUT...]}
//   POST   /v1/grids/{grid}/services                SERVICE plus "stack" (default "null")
//          -> 201 READOUT (created, not deployed: `kontena service create`)
//   GET    /v1/services/{grid}/{stack}/{service}    -> 200 READOUT
//   PUT    /v1/services/{grid}/{stack}/{service}    SERVICE fields to change -> 200 READOUT
//          (`kontena service update`: a change bumps `revision`; the GridSchedulerJob then
//          redeploys the running service within scheduler_interval)
//   POST   /v1/services/{grid}/{stack}/{service}/deploy -> 200 {id: deploy id}
//   POST   /v1/services/{grid}/{stack}/{service}/start  -> 200 {} (notify ["start"])
//   POST   /v1/services/{grid}/{stack}/{service}/stop   -> 200 {} (notify ["stop"])
//   DELETE /v1/services/{grid}/{stack}/{service}    -> 200 {} (notify ["terminate"])
//   POST   /v1/grids/{grid}/external_registries     {url: "http(s)://host[:port]", username, password, email?}
//          -> 201 {id: "grid/name", name ("host", or "host:port" unless 80/443), url, username, email}
//          (`kontena registry add`; pods of images under that name get these image_credentials)
//   GET    /v1/grids/{grid}/external_registries     -> 200 {external_registries: [...]} (no passwords)
//   GET    /v1/_sim/containers                      -> 200 {containers: [CONTAINER...]} every record,
//          deleted ones included (status "deleted")
// Errors: 404 {error} for an unknown grid, stack or service; 422 {error} for a bad definition
// or a taken name.
//
// SERVICE: {name, image, strategy: "ha"|"daemon", instances (1), affinity: ["label==k=v",
// "label!=k=v", "node==n", ...], stateful (false), cmd: [..] or "a b 'c d'", entrypoint,
// env: ["K=V"] or {K: V}, secrets: [{name, value, type: "env"}] (value = the vault's; omit it for
// a secret missing from the vault), image_credentials: {username, password, email} (overrides
// the matching external registry's),
// cpu_shares, cpus, memory, memory_swap, shm_size (bytes, or "512m"/"1g"), ports:
// [{node_port, container_port, protocol, ip}] or ["8080:80/tcp"], and the other ServicePod
// fields as the pod carries them: user, privileged, read_only, cap_add, cap_drop, devices,
// pid, net, volumes, volumes_from, log_driver, log_opts, stop_signal, stop_grace_period,
// wait_for_port, exposed, hooks {pre_start|post_start|pre_stop: [{name, cmd, instances, oneshot}]}
// (or [{type, name, cmd, instances, oneshot}]; hooks.hpp), health_check {protocol,
// uri, port, interval, timeout, initial_delay}}.
//
// READOUT: {id: "grid/stack/service", service_id, grid, stack, name, image, strategy,
// container_count, affinity, stateful, state, revision, created_at, updated_at, deployed_at,
// image_credentials (password "<present>"), spec, instances: [{instance_number, node,
// desired_state, deploy_rev, rev, state, error, containers: [CONTAINER...]}], events: [{time,
// severity, type, msg, node, instance_number}], deploys: [{id, created_at, started_at,
// finished_at, state: created|ongoing|success|error, reason, deploy_rev, instances:
// [{instance_number, node, state, error}]}]}
// CONTAINER: {id, name, node, status (running|stopped|...|deleted), labels (as stored: "."
// becomes ";"), instance_number, deploy_rev, service_id, container_type, image, cmd, env,
// hostname, domainname, state {...}, started_at, finished_at, health_status, deleted_at}
#pragma once

#include "sim_state.hpp"

#include <boost/beast/http/verb.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kn::master_sim {

struct RestResult {
  int status = 200;
  Json body;
};

// nullopt when `parts` (the decoded path segments) is not a service-side route.
std::optional<RestResult> handle_service_rest(SimState& state, boost::beast::http::verb method,
                                              const std::vector<std::string>& parts, const Json& body);

}  // namespace kn::master_sim

// Exec and inspect as the master drives them on the node that holds a container (kontena
// v1.5.4: server/app/routes/v1/containers_api.rb, server/app/services/docker/streaming_executor.rb,
// container_executor.rb, container_inspector.rb, server/app/services/rpc/container_exec_handler.rb).
//
// Agent-facing: /container_exec/output [uuid, stream, chunk], /container_exec/exit [uuid, code],
// /container_exec/error [uuid, msg] (notifications; the real master publishes them to the
// session's subscriber, here they are collected per session).
//
// REST, the master's own routes (container = the record of /containers/save, found by grid,
// node name and container name):
//   POST /v1/containers/{grid}/{node}/{name}/exec    {cmd: [..]}  -> 200 [stdout[], stderr[], code]
//        (the request /containers/exec [container_id, cmd, {}]; a 404 from the agent gives 200 null)
//   GET  /v1/containers/{grid}/{node}/{name}/inspect              -> 200 the inspect document (null on 404)
//   Other agent errors: 500 {error}; no live connection to the node: 503 {error}.
// Test-only, standing in for the exec WebSocket (GET .../exec?interactive=&tty=), which sends
// the same calls as StreamingExecutor does:
//   POST /v1/_sim/exec  {container: id or name, cmd?: [..], tty?, stdin?} -> 201 {id}
//        (/containers/create_exec [container_id] as a request, then, when cmd is given,
//        /containers/run_exec [id, cmd, tty, stdin] as a notification)
//   POST /v1/_sim/exec/{id}/run        {cmd, tty?, stdin?}  -> 200 {} (run_exec later)
//   POST /v1/_sim/exec/{id}/input      {stdin: "text" or null} -> 200 {} (tty_input)
//   POST /v1/_sim/exec/{id}/resize     {width, height}      -> 200 {} (tty_resize)
//   POST /v1/_sim/exec/{id}/terminate                       -> 200 {} (terminate_exec)
//   GET  /v1/_sim/exec/{id} -> 200 {id, container, node, chunks: [{stream, chunk}], stdout, stderr,
//        output (both, in arrival order), exit (code or null), error (text or null), ended}
#pragma once

#include "node_registry.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kn::master_sim {

struct SimState;

struct ExecRecord {
  std::string id;
  std::string container_id;
  NodeKey node = 0;
  Json chunks = Json::array();
  std::optional<int> exit;
  std::optional<std::string> error;
};

struct ExecRestResult {
  int status = 200;
  Json body;
};

struct ExecStore {
  std::map<std::string, ExecRecord> sessions;
};

// The three Rpc::ContainerExecHandler methods; unknown sessions are ignored.
void exec_output(SimState& state, const Json& params);
void exec_exit(SimState& state, const Json& params);
void exec_error(SimState& state, const Json& params);

// True when `parts` is one of the routes above.
bool is_exec_route(const std::vector<std::string>& parts);
boost::asio::awaitable<ExecRestResult> handle_exec_rest(SimState& state, boost::beast::http::verb method,
                                                    std::vector<std::string> parts, Json body);

}  // namespace kn::master_sim

// Containers and images through the Docker Engine API over the unix socket: what the node
// runtime needs to run service pods. The API version is negotiated with /_ping by
// EngineClient. https://docs.docker.com/engine/api/v1.41/
#pragma once

#include "core/error.hpp"
#include "docker/engine_client.hpp"
#include "docker/event_stream.hpp"
#include "docker/output_frames.hpp"
#include "http/curl_transport.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kn::docker {

struct RegistryAuth { std::string username, password, email, server_address; };   // never logged
struct ContainerSummary {            // one entry of GET /containers/json
  std::string id, name /*without leading '/'*/, image, image_id, state /*running|exited|created|...*/;
  std::map<std::string, std::string> labels;
};
class ContainerApi {                 // not thread-safe: one per thread (owns its own CurlTransport)
 public:
  // docker_host as in EngineClient::connect ("unix:///var/run/docker.sock" or a bare path).
  static Result<ContainerApi> connect(std::string docker_host);
  // GET /containers/json?all=1&filters={"label":[...]} ; label_filters entries "key=value" or "key".
  Result<std::vector<ContainerSummary>> list(const std::vector<std::string>& label_filters);
  Result<nlohmann::json> inspect(std::string_view id);             // 404 -> Errc::docker_not_found
  Result<std::string> create(std::string_view name, const nlohmann::json& body);  // returns Id; 409 -> docker_conflict
  Status start(std::string_view id);                                // 304 counts as success
  Status stop(std::string_view id, std::chrono::seconds grace);     // 304 counts as success
  Status restart(std::string_view id, std::chrono::seconds grace);
  Status remove(std::string_view id, bool volumes, bool force);     // 404 counts as success
  Result<long> wait(std::string_view id, std::chrono::seconds limit); // POST /containers/ID/wait -> StatusCode
  //   (still running after `limit`: Errc::http_timeout; pull past its limit too)
  // POST /images/create?fromImage=NAME&tag=TAG (a name without a tag means "latest"; digests kept);
  // X-Registry-Auth (base64url JSON) when auth is set; errors inside the progress stream are failures.
  // `cancelled` (when set) is asked about every 100 ms: true ends the pull at once (Errc::stopped),
  // so an agent that is stopping does not wait for a registry that hangs.
  Status pull(std::string_view image, const std::optional<RegistryAuth>& auth, std::chrono::seconds limit,
              const std::function<bool()>& cancelled = {});
  Result<nlohmann::json> inspect_image(std::string_view image);    // 404 -> Errc::docker_not_found

  // ---- exec and output (lifecycle hooks, exec sessions, /containers/exec) ----
  // GET /containers/ID/logs?stdout=1&stderr=1 of a container without a TTY, demultiplexed;
  // everything it wrote so far (call it after `wait`).
  Status logs(std::string_view id, const OutputSink& on_output, std::chrono::seconds limit);
  // POST /containers/ID/exec with `config` (AttachStdin/Stdout/Stderr, Tty, Cmd, Env); returns
  // the exec id. 404 -> docker_not_found, 409 (not running, paused) -> docker_conflict.
  Result<std::string> create_exec(std::string_view container_id, const nlohmann::json& config);
  // POST /exec/ID/start {Detach: false} without a TTY: streams the command's output until it
  // ends (past `limit`: Errc::http_timeout, the command may still run). Sessions that need
  // stdin use the hijacked stream of docker/exec_stream.hpp.
  Status exec_start(std::string_view exec_id, const OutputSink& on_output, std::chrono::seconds limit);
  // POST /exec/ID/resize?h=&w= (the TTY of a running exec); 409 while the process is not running yet.
  Status resize_exec(std::string_view exec_id, int height, int width);
  // GET /exec/ID/json: {Running, ExitCode (null while running), Pid, ...}.
  Result<nlohmann::json> inspect_exec(std::string_view exec_id);
  // Its ExitCode, once the command ended.
  Result<long> exec_exit_code(std::string_view exec_id);
  // The socket and API version, for the hijacked POST /exec/ID/start (docker/exec_stream.hpp).
  const EngineClient& engine() const { return engine_; }
  // ---- health checks and stats ----
  // GET /containers/ID/stats?stream=false: one sample, with precpu_stats from about a second
  // before (the engine waits for it). 404 -> Errc::docker_not_found.
  Result<nlohmann::json> stats(std::string_view id);
  // ---- volumes (https://docs.docker.com/engine/api/v1.41/#tag/Volume) ----
  Result<nlohmann::json> inspect_volume(std::string_view name);    // 404 -> Errc::docker_not_found
  // POST /volumes/create with {Name, Driver, DriverOpts, Labels}; returns the volume document.
  Result<nlohmann::json> create_volume(const nlohmann::json& body);
  // GET /volumes?filters={"label":[...]}: the "Volumes" array (entries "key=value" or "key").
  Result<std::vector<nlohmann::json>> list_volumes(const std::vector<std::string>& label_filters);
  Status remove_volume(std::string_view name);  // 404 counts as success; in use -> Errc::docker_conflict

 private:
  ContainerApi(std::unique_ptr<http::CurlTransport> transport, EngineClient engine)
      : transport_(std::move(transport)), engine_(std::move(engine)) {}

  // One exchange; a transport failure becomes Errc::docker_unavailable naming `what`.
  Result<http::Response> send(std::string_view what, std::string method, std::string url,
                              std::chrono::milliseconds timeout, std::string body = {});
  Failure unreachable(std::string_view what, const Failure& cause) const;

  std::unique_ptr<http::CurlTransport> transport_;  // heap: engine_ keeps a reference across moves
  EngineClient engine_;                             // the negotiated API version and socket

};

// The X-Registry-Auth header value: base64url of {"username","password","email","serveraddress"},
// serveraddress defaulting to registry_host_of(image). Holds the password: never log it.
// https://docs.docker.com/engine/api/v1.41/#section/Authentication
std::string encode_registry_auth(const RegistryAuth& auth, std::string_view image);

}  // namespace kn::docker

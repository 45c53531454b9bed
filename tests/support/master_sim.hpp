// The Kontena master simulator (build/bin/kontena-master-sim, tests/master_sim/) as a test
// fixture: started on a loopback ephemeral port with a grid token file in a TempDir,
// inspected and driven through its REST API (the node routes a real master has, plus the
// test-only /v1/_sim/ control routes). With `tls = true` it serves wss/https with a
// certificate made at fixture start by the `openssl` CLI (CN 127.0.0.1, SAN IP:127.0.0.1 and
// DNS:localhost), signed by a throwaway CA whose file `ca_file()` names.
//
// Every call throws std::runtime_error when the simulator cannot be reached or answers
// with an unexpected status: a broken fixture is a broken test, not an expected failure.
#pragma once

#include "support/process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kn::test {

struct MasterSimOptions {
  bool tls = false;
  std::string master_version = "1.5.4";
  std::string grid = "test";
  std::string grid_token;  // empty: a random one
  std::string api_token;   // empty: the REST API needs no bearer token
  // Extra command-line flags, e.g. {"--ping-interval", "1s", "--pong-timeout", "500ms"}.
  std::vector<std::string> args;
};

// Files for a TLS server: a fresh CA and a leaf certificate signed by it.
struct TlsFiles {
  std::filesystem::path ca_cert;
  std::filesystem::path cert;
  std::filesystem::path key;
};

// Makes a CA and a server certificate for `subject_alt_names` (e.g. {"IP:127.0.0.1",
// "DNS:localhost"}) in `dir` with the openssl CLI. Throws if openssl fails.
TlsFiles make_tls_files(const std::filesystem::path& dir, const std::vector<std::string>& subject_alt_names = {
                                                              "IP:127.0.0.1", "DNS:localhost"});

// One REST exchange: the HTTP status and the JSON body (null when the body is empty or not JSON).
struct RestReply {
  int status = 0;
  nlohmann::json body;
  std::string raw;
  std::string header_kontena_version;  // X-Kontena-Version
};

class MasterSim {
 public:
  explicit MasterSim(MasterSimOptions options = {});
  ~MasterSim();  // SIGTERM, then SIGKILL after 5 s
  MasterSim(const MasterSim&) = delete;
  MasterSim& operator=(const MasterSim&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT/" (or https://): what an agent takes as KONTENA_URL.
  std::string url() const;
  // "ws://127.0.0.1:PORT/" (or wss://).
  std::string ws_url() const;
  const std::string& grid() const { return options_.grid; }
  const std::string& grid_token() const { return options_.grid_token; }
  std::filesystem::path grid_token_file() const { return dir_ / "grid-token"; }
  const std::string& api_token() const { return options_.api_token; }
  const std::string& master_version() const { return options_.master_version; }
  bool tls() const { return options_.tls; }
  // CA certificate that verifies the simulator's TLS certificate (empty without TLS).
  std::filesystem::path ca_file() const { return tls_.ca_cert; }
  // The simulator's stderr so far (one line per handshake and close).
  std::string log() const;
  pid_t pid() const { return process_->pid(); }
  // SIGTERM and wait (5 s); the exit code (-1 when it did not exit).
  int stop();

  // Environment pointing a kontena-agent at this simulator: KONTENA_URL, KONTENA_TOKEN_FILE
  // (the grid token file), SSL_CERT_FILE with TLS; unsets KONTENA_TOKEN, KONTENA_NODE_TOKEN(_FILE).
  Env env() const;

  // Node JSON objects of the grid (GET /v1/grids/{grid}/nodes).
  nlohmann::json nodes() const;
  // One node by name, or by node_id when it contains ':' (null when there is none).
  nlohmann::json node(const std::string& name_or_id) const;
  // Creates a node for the node-token path (POST /v1/grids/{grid}/nodes); the reply holds
  // the node JSON plus "token" (the given one, or a generated one).
  nlohmann::json create_node(const std::string& name, const std::string& token = {},
                             const std::vector<std::string>& labels = {}) const;
  // PUT /v1/nodes/{grid}/{node} with e.g. {"labels": [...]} or {"availability": "drain"}.
  nlohmann::json update_node(const std::string& name_or_id, const nlohmann::json& changes) const;
  // DELETE /v1/nodes/{grid}/{node}: the node's live connection is then closed with 4040.
  void remove_node(const std::string& name_or_id) const;

  // Closes the node's live connection with `code` (POST /v1/_sim/close); returns the reply
  // ({"closed": N}).
  nlohmann::json close(const std::string& node, int code, const std::string& reason = "closed by test") const;
  // {"connections","handshakes","accepted","rejections":{"4001":N,...},...} (GET /v1/_sim/stats).
  nlohmann::json stats() const;
  // The PUT and DELETE /v1/nodes/{grid}/{node} calls so far, oldest first (GET
  // /v1/_sim/node_api_calls): [{method, grid, node, status, auth ("ok", "missing", "wrong";
  // never the token), body, at}].
  nlohmann::json node_api_calls() const;
  // Answers the next `times` authorized node calls with `status` (403, 404, 422, 5xx; 0 ends it).
  void node_api_fault(int status, int times = 1) const;
  // Changes timings at run time (POST /v1/_sim/config), e.g. {"ping_interval_ms": 200}.
  nlohmann::json configure(const nlohmann::json& changes) const;
  // Sends a request to the node's agent and returns {"error":..,"result":..} (POST /v1/_sim/request).
  nlohmann::json request(const std::string& node, const std::string& method,
                         const nlohmann::json& params = nlohmann::json::array(),
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // The service side (tests/master_sim/service_rest.hpp documents the bodies and read-outs).
  // POST /v1/grids/{grid}/stacks: creates the stack's services and deploys them (unless the
  // body says "deploy": false); returns {id, name, services, deploys}.
  nlohmann::json create_stack(const nlohmann::json& stack) const;
  // GET /v1/services/{grid}/{stack}/{service}, the `kontena service show` read-out (null when
  // there is no such service).
  nlohmann::json service(const std::string& stack, const std::string& name) const;
  // DELETE /v1/stacks/{grid}/{stack} (`kontena stack rm`).
  void remove_stack(const std::string& stack) const;
  // Every container record the agents reported, deleted ones included (GET /v1/_sim/containers).
  nlohmann::json containers() const;
  // `kontena service logs`: GET /v1/services/{grid}/{stack}/{service}/container_logs?limit=N
  // (&from=ID: the lines after that id; without it the last N); the `logs` array of
  // {id, name, created_at, type, data, ...} (tests/master_sim/container_logs.hpp).
  nlohmann::json service_logs(const std::string& stack, const std::string& name, int limit = 100,
                              const std::string& from = {}) const;
  // Every stored line of the service, oldest first (pages of 10000 with `from`).
  nlohmann::json all_service_logs(const std::string& stack, const std::string& name) const;

  // Exec sessions, driven as the master's exec WebSocket drives them (tests/master_sim/container_exec.hpp):
  // create_exec on the node holding `container` (id or name), then run_exec with `cmd` (none: only
  // created). Returns the session id.
  std::string exec_start(const std::string& container, const std::vector<std::string>& cmd, bool tty,
                         bool stdin) const;
  // tty_input (`data` a string, or null to close stdin), tty_resize, terminate_exec.
  void exec_input(const std::string& session, const nlohmann::json& data) const;
  void exec_resize(const std::string& session, int width, int height) const;
  void exec_terminate(const std::string& session) const;
  // {output, stdout, stderr, chunks, exit (null while running), error, ended}.
  nlohmann::json exec_session(const std::string& session) const;
  // The service's live containers with health_status (GET .../{stack}/{service}/containers;
  // empty when there is no such service), and `kontena service stats` (GET .../container_stats:
  // [{container_id, cpu, memory, network}]).
  nlohmann::json service_containers(const std::string& stack, const std::string& name) const;
  nlohmann::json service_stats(const std::string& stack, const std::string& name) const;

  // Named volumes (tests/master_sim/volumes.hpp): POST /v1/volumes/{grid} with {name, scope,
  // driver, driver_opts}; GET /v1/volumes/{grid}/{name} (null when there is none), whose
  // "instances" are [{name, node}]; DELETE /v1/volumes/{grid}/{name}.
  nlohmann::json create_volume(const std::string& name, const std::string& scope, const std::string& driver = "local",
                               const nlohmann::json& driver_opts = nlohmann::json::object()) const;
  nlohmann::json volume(const std::string& name) const;
  void remove_volume(const std::string& name) const;

  // Any REST call; `authorize` adds the bearer API token when one is configured.
  RestReply rest(const std::string& method, const std::string& target, const nlohmann::json& body = nullptr,
                 bool authorize = true) const;

  // Polls `condition` every 20 ms until it holds or `timeout` passes; returns the last result.
  static bool wait_until(const std::function<bool()>& condition,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until the node exists with the given status ("online", "offline", ...).
  bool wait_for_status(const std::string& name_or_id, const std::string& status,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  nlohmann::json checked(const std::string& method, const std::string& target, const nlohmann::json& body) const;

  MasterSimOptions options_;
  TempDir dir_;
  TlsFiles tls_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

}  // namespace kn::test

#include "container_exec.hpp"

#include "sim_state.hpp"

#include <boost/asio/use_awaitable.hpp>

namespace kn::master_sim {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

// RpcClient's wait for an agent's answer in these routes (the real one waits 300 s).
constexpr milliseconds kRequestTimeout{30'000};

ExecRestResult err(int status, std::string message) { return {status, Json{{"error", std::move(message)}}}; }

// Output is bytes; the REST side answers JSON, so what is not UTF-8 becomes U+FFFD, as
// Ruby's JSON.dump would refuse it and the CLI would never see it.
Json text(const std::string& bytes) {
  return Json::parse(Json(bytes).dump(-1, ' ', false, Json::error_handler_t::replace));
}

ExecRecord* record(SimState& st, const Json& params) {
  if (!params.is_array() || params.empty() || !params[0].is_string()) return nullptr;
  auto it = st.exec.sessions.find(params[0].get<std::string>());
  return it == st.exec.sessions.end() ? nullptr : &it->second;
}

// Container#find on a node of the grid, as containers_api.rb's load_grid_container does; the
// test-only routes also take the container id.
ContainerRecord* find_container(SimState& st, const std::string& grid, const std::string& node_name,
                                const std::string& name) {
  Node* node = node_name.empty() ? nullptr : st.registry.find_by_name(grid, node_name);
  for (auto& [id, c] : st.services.containers()) {
    if (c.deleted_at || (!grid.empty() && c.grid != grid)) continue;
    if (node != nullptr && (c.node != node->key || c.name != name)) continue;
    if (node == nullptr && (!node_name.empty() || (c.container_id != name && c.name != name))) continue;
    return &c;
  }
  return nullptr;
}

Session* live_session(SimState& st, const ContainerRecord& c) {
  if (!c.node) return nullptr;
  auto sessions = st.sessions_of(*c.node, true);
  return sessions.empty() ? nullptr : sessions.front();
}

std::string error_message(const Json& e) {
  if (e.is_object()) {
    for (const char* key : {"message", "error"}) {
      if (e.contains(key) && e[key].is_string()) return e[key].get<std::string>();
    }
  }
  return e.dump();
}

void notify(SimState& st, const ExecRecord& rec, const std::string& method, Json params) {
  for (Session* s : st.sessions_of(rec.node, true)) s->send(rpc::Notification{method, std::move(params)});
}

// A request to the node that holds `c`: the result, or the REST error the master would give.
awaitable<ExecRestResult> ask(SimState& st, const ContainerRecord& c, std::string method, Json params,
                              bool null_on_404) {
  Session* s = live_session(st, c);
  if (s == nullptr) co_return err(503, "Node " + c.grid + " is not connected");
  auto keep = s->shared_from_this();
  auto response = co_await keep->request(std::move(method), std::move(params), kRequestTimeout);
  if (!response) co_return err(504, "RpcClient::TimeoutError: Connection timeout");
  if (!response->error.is_null()) {
    const bool not_found = response->error.is_object() && response->error.value("code", 0) == 404;
    if (not_found && null_on_404) co_return ExecRestResult{200, nullptr};
    co_return err(not_found ? 404 : 500, "RpcClient::Error: " + error_message(response->error));
  }
  co_return ExecRestResult{200, Json::parse(response->result.dump(-1, ' ', false, Json::error_handler_t::replace))};
}

Json run_params(const std::string& id, const Json& body) {
  Json p = Json::array({id, body.value("cmd", Json::array()), body.value("tty", false), body.value("stdin", false)});
  return p;
}

bool valid_cmd(const Json& body) {
  if (!body.is_object() || !body.contains("cmd") || !body["cmd"].is_array() || body["cmd"].empty()) return false;
  for (const auto& part : body["cmd"]) {
    if (!part.is_string()) return false;
  }
  return true;
}

Json read_out(const ExecRecord& rec) {
  std::string out, err_text, all;
  for (const auto& c : rec.chunks) {
    const std::string chunk = c.value("chunk", "");
    (c.value("stream", "") == "stderr" ? err_text : out) += chunk;
    all += chunk;
  }
  return {{"id", rec.id},
          {"container", rec.container_id},
          {"chunks", rec.chunks},
          {"stdout", out},
          {"stderr", err_text},
          {"output", all},
          {"exit", rec.exit ? Json(*rec.exit) : Json(nullptr)},
          {"error", rec.error ? Json(text(*rec.error)) : Json(nullptr)},
          {"ended", rec.exit.has_value() || rec.error.has_value()}};
}

awaitable<ExecRestResult> sim_exec(SimState& st, http::verb method, const std::vector<std::string>& p, Json body) {
  if (p.size() == 3 && method == http::verb::post) {
    if (!body.is_object() || !body.contains("container") || !body["container"].is_string())
      co_return err(422, "container is required");
    if (body.contains("cmd") && !valid_cmd(body)) co_return err(422, "cmd must be a non-empty array of strings");
    const std::string grid = body.value("grid", std::string());
    ContainerRecord* c = find_container(st, grid, "", body["container"].get<std::string>());
    if (c == nullptr) co_return err(404, "Container not found");
    const ContainerRecord container = *c;  // the store may change while the request waits
    // StreamingExecutor#setup: create_exec is a request; its answer names the session.
    // GCC 12 rejects braced lists and string literals inside a co_await ("array used as
    // initializer"): the arguments are made first.
    std::string create_method = "/containers/create_exec";
    Json create_params = Json::array();
    create_params.push_back(container.container_id);
    auto created = co_await ask(st, container, std::move(create_method), std::move(create_params), false);
    if (created.status != 200) co_return created;
    if (!created.body.is_object() || !created.body.contains("id") || !created.body["id"].is_string())
      co_return err(500, "create_exec answered without an id: " + created.body.dump());
    ExecRecord rec;
    rec.id = created.body["id"].get<std::string>();
    rec.container_id = container.container_id;
    rec.node = *container.node;
    st.exec.sessions[rec.id] = rec;
    st.log->info("exec session {} created in container {}", rec.id, container.name);
    if (body.contains("cmd")) notify(st, rec, "/containers/run_exec", run_params(rec.id, body));
    co_return ExecRestResult{201, Json{{"id", rec.id}}};
  }
  if (p.size() < 4) co_return err(404, "Not found");
  auto it = st.exec.sessions.find(p[3]);
  if (it == st.exec.sessions.end()) co_return err(404, "Exec session not found");
  ExecRecord& rec = it->second;
  if (p.size() == 4 && method == http::verb::get) co_return ExecRestResult{200, read_out(rec)};
  if (p.size() != 5 || method != http::verb::post) co_return err(404, "Not found");
  const std::string& action = p[4];
  if (action == "run") {
    if (!valid_cmd(body)) co_return err(422, "cmd must be a non-empty array of strings");
    notify(st, rec, "/containers/run_exec", run_params(rec.id, body));
  } else if (action == "input") {
    if (!body.is_object() || !body.contains("stdin") || !(body["stdin"].is_string() || body["stdin"].is_null()))
      co_return err(422, "stdin (a string or null) is required");
    notify(st, rec, "/containers/tty_input", Json::array({rec.id, body["stdin"]}));
  } else if (action == "resize") {
    // StreamingExecutor#exec_resize: whole numbers >= 0.
    if (!body.is_object() || !body.contains("width") || !body.contains("height") ||
        !body["width"].is_number_integer() || !body["height"].is_number_integer() || body["width"].get<int>() < 0 ||
        body["height"].get<int>() < 0)
      co_return err(422, "width and height must be integers >= 0");
    notify(st, rec, "/containers/tty_resize",
           Json::array({rec.id, Json{{"width", body["width"]}, {"height", body["height"]}}}));
  } else if (action == "terminate") {
    notify(st, rec, "/containers/terminate_exec", Json::array({rec.id}));
  } else {
    co_return err(404, "Not found");
  }
  co_return ExecRestResult{200, Json::object()};
}

}  // namespace

void exec_output(SimState& state, const Json& params) {
  ExecRecord* rec = record(state, params);
  if (rec == nullptr || params.size() < 3 || !params[1].is_string() || !params[2].is_string()) return;
  rec->chunks.push_back(Json{{"stream", params[1]}, {"chunk", text(params[2].get<std::string>())}});
}

void exec_exit(SimState& state, const Json& params) {
  ExecRecord* rec = record(state, params);
  if (rec == nullptr || params.size() < 2 || !params[1].is_number_integer()) return;
  rec->exit = params[1].get<int>();
  state.log->info("exec session {} exited with {}", rec->id, *rec->exit);
}

void exec_error(SimState& state, const Json& params) {
  ExecRecord* rec = record(state, params);
  if (rec == nullptr || params.size() < 2) return;
  rec->error = params[1].is_string() ? params[1].get<std::string>() : params[1].dump();
  state.log->info("exec session {} failed: {}", rec->id, *rec->error);
}

bool is_exec_route(const std::vector<std::string>& p) {
  if (p.size() >= 3 && p[0] == "v1" && p[1] == "_sim" && p[2] == "exec") return p.size() <= 5;
  return p.size() == 6 && p[0] == "v1" && p[1] == "containers" && (p[5] == "exec" || p[5] == "inspect");
}

awaitable<ExecRestResult> handle_exec_rest(SimState& state, http::verb method, std::vector<std::string> p, Json body) {
  if (p[1] == "_sim") co_return co_await sim_exec(state, method, p, std::move(body));
  ContainerRecord* c = find_container(state, p[2], p[3], p[4]);
  if (c == nullptr) co_return err(404, "Container not found");
  const ContainerRecord container = *c;
  if (p[5] == "inspect" && method == http::verb::get) {
    std::string method_name = "/containers/inspect";
    Json params = Json::array();
    params.push_back(container.container_id);
    co_return co_await ask(state, container, std::move(method_name), std::move(params), true);
  }
  if (p[5] == "exec" && method == http::verb::post) {
    if (!body.is_object() || !body.contains("cmd")) co_return err(422, "cmd is required");
    // ContainerExecutor#exec_in_container: the cmd goes as the API got it, with empty options.
    std::string method_name = "/containers/exec";
    Json params = Json::array();
    params.push_back(container.container_id);
    params.push_back(body["cmd"]);
    params.push_back(Json::object());
    co_return co_await ask(state, container, std::move(method_name), std::move(params), true);
  }
  co_return err(404, "Not found");
}

}  // namespace kn::master_sim

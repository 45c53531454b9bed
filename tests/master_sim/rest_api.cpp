#include "rest_api.hpp"

#include "container_logs.hpp"
#include "container_exec.hpp"
#include "service_rest.hpp"
#include "volumes.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <openssl/rand.h>

#include <boost/beast/core/detail/base64.hpp>

#include <set>
#include <vector>

namespace kn::master_sim {
namespace {

namespace http = boost::beast::http;
using boost::asio::awaitable;

struct Route {
  http::verb method;
  std::vector<std::string> parts;  // decoded path segments
  Json body;
};

HttpResponse reply(const HttpRequest& req, http::status status, const Json& body) {
  HttpResponse res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "kontena-master-sim");
  res.keep_alive(req.keep_alive());
  res.body() = body.dump();
  res.prepare_payload();
  return res;
}

HttpResponse error(const HttpRequest& req, http::status status, const std::string& message) {
  return reply(req, status, Json{{"error", message}});
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start < target.size()) {
    const auto slash = target.find('/', start);
    const auto end = slash == std::string_view::npos ? target.size() : slash;
    if (end > start) parts.push_back(percent_decode(target.substr(start, end - start)));
    start = end + 1;
  }
  return parts;
}

bool authorized(const SimState& state, const HttpRequest& req) {
  if (!state.api_token) return true;
  const auto header = req[http::field::authorization];
  return std::string_view(header.data(), header.size()) == "Bearer " + *state.api_token;
}

// Grid#create_node! tokens: 64 random bytes in base64.
std::string generate_token() {
  unsigned char raw[64];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string out(boost::beast::detail::base64::encoded_size(sizeof raw), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), raw, sizeof raw));
  return out;
}

std::optional<std::vector<std::string>> string_array(const Json& j) {
  if (!j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& x : j) {
    if (!x.is_string()) return std::nullopt;
    out.push_back(x.get<std::string>());
  }
  return out;
}

// Nodes are named by name, or by node_id when the reference contains ':'.
Node* lookup(SimState& state, const std::string& grid, const std::string& ref) {
  return state.registry.find_by_ref(grid, ref);
}

HttpResponse grid_nodes(SimState& state, const HttpRequest& req, const Route& r) {
  const std::string& grid = r.parts[2];
  if (state.registry.grid(grid) == nullptr) return error(req, http::status::not_found, "Grid not found");
  if (r.method == http::verb::get) {
    Json nodes = Json::array();
    for (const Node* n : state.registry.nodes_of(grid)) nodes.push_back(state.registry.to_json(*n));
    return reply(req, http::status::ok, Json{{"nodes", nodes}});
  }
  if (r.method != http::verb::post) return error(req, http::status::method_not_allowed, "Method not allowed");
  // HostNodes::Create: {name, token?, labels?}
  if (!r.body.is_object() || !r.body.contains("name") || !r.body["name"].is_string() ||
      r.body["name"].get<std::string>().empty()) {
    return error(req, http::status::unprocessable_entity, "name is required");
  }
  const auto name = r.body["name"].get<std::string>();
  if (state.registry.find_by_name(grid, name) != nullptr) {
    return error(req, http::status::unprocessable_entity, "name is already taken");
  }
  std::string token;
  if (r.body.contains("token") && !r.body["token"].is_null()) {
    if (!r.body["token"].is_string()) return error(req, http::status::unprocessable_entity, "token must be a string");
    token = r.body["token"].get<std::string>();
    if (token.size() < 16 || token.size() > 256) {
      return error(req, http::status::unprocessable_entity, "token must be 16 to 256 characters");
    }
    if (state.registry.find_by_token(token) != nullptr) {
      return error(req, http::status::unprocessable_entity, "token is already taken");
    }
  } else {
    token = generate_token();
  }
  std::vector<std::string> labels;
  if (r.body.contains("labels") && !r.body["labels"].is_null()) {
    auto l = string_array(r.body["labels"]);
    if (!l) return error(req, http::status::unprocessable_entity, "labels must be an array of strings");
    labels = *l;
  }
  Node* n = state.registry.create(grid, name, std::nullopt, labels, token, now());
  if (n == nullptr) return error(req, http::status::unprocessable_entity, "grid is full");
  state.log->info("node created grid={} node={} (node token)", grid, n->name);
  Json j = state.registry.to_json(*n);
  j["token"] = token;
  state.notify_grid(grid);
  return reply(req, http::status::created, j);
}

HttpResponse one_node(SimState& state, const HttpRequest& req, const Route& r) {
  const std::string& grid = r.parts[2];
  Node* n = lookup(state, grid, r.parts[3]);
  if (n == nullptr) return error(req, http::status::not_found, "Node not found");
  if (r.parts.size() == 5) {
    if (r.parts[4] != "token" || r.method != http::verb::get) return error(req, http::status::not_found, "Not found");
    if (!n->token) return error(req, http::status::not_found, "Host node does not have a node token");
    return reply(req, http::status::ok, Json{{"id", grid + "/" + n->name}, {"token", *n->token}});
  }
  if (r.method == http::verb::get) return reply(req, http::status::ok, state.registry.to_json(*n));
  if (r.method == http::verb::put) {
    if (!r.body.is_object()) return error(req, http::status::unprocessable_entity, "body must be a JSON object");
    std::optional<std::vector<std::string>> labels;
    if (r.body.contains("labels")) {
      labels = string_array(r.body["labels"]);
      if (!labels) return error(req, http::status::unprocessable_entity, "labels must be an array of strings");
    }
    std::optional<std::string> availability;
    if (r.body.contains("availability")) {
      const auto& a = r.body["availability"];
      if (!a.is_string() || (a != "active" && a != "drain")) {
        return error(req, http::status::unprocessable_entity, "availability must be active or drain");
      }
      availability = a.get<std::string>();
    }
    if (labels) n->labels = *labels;
    if (availability) n->availability = *availability;
    n->updated_at = now();
    state.log->info("node updated grid={} node={}", grid, n->name);
    Json j = state.registry.to_json(*n);
    state.notify_grid(grid);
    return reply(req, http::status::ok, j);
  }
  if (r.method == http::verb::delete_) {
    const NodeKey key = n->key;
    const std::string name = n->name;
    auto sessions = state.sessions_of(key, false);
    state.registry.remove(key);
    state.log->info("node removed grid={} node={}", grid, name);
    // The master closes a removed node's connection with 4040 at the next keepalive;
    // that keepalive round runs now so tests need not wait for the ping interval.
    for (Session* s : sessions) s->ping_now();
    state.notify_grid(grid);
    return reply(req, http::status::ok, Json::object());
  }
  return error(req, http::status::method_not_allowed, "Method not allowed");
}

Node* sim_node(SimState& state, const Json& body) {
  if (!body.is_object() || !body.contains("node") || !body["node"].is_string()) return nullptr;
  std::string grid = state.registry.grids().empty() ? std::string() : state.registry.grids().begin()->first;
  if (body.contains("grid") && body["grid"].is_string()) grid = body["grid"].get<std::string>();
  return lookup(state, grid, body["node"].get<std::string>());
}

awaitable<HttpResponse> sim_routes(SimState& state, const HttpRequest& req, const Route& r) {
  const std::string& what = r.parts[2];
  if (what == "stats" && r.method == http::verb::get) co_return reply(req, http::status::ok, state.counters_json());
  if (what == "config" && r.method == http::verb::get) co_return reply(req, http::status::ok, state.config.to_json());
  if (what == "config" && r.method == http::verb::post) {
    if (auto problem = state.config.apply(r.body)) co_return error(req, http::status::unprocessable_entity, *problem);
    for (Session* s : state.sessions) s->reschedule();
    if (state.on_config_changed) state.on_config_changed();
    state.log->info("timings changed: {}", state.config.to_json().dump());
    co_return reply(req, http::status::ok, state.config.to_json());
  }
  if (what == "close" && r.method == http::verb::post) {
    Node* n = sim_node(state, r.body);
    if (n == nullptr) co_return error(req, http::status::not_found, "Node not found");
    if (!r.body.contains("code") || !r.body["code"].is_number_integer()) {
      co_return error(req, http::status::unprocessable_entity, "code is required");
    }
    const int code = r.body["code"].get<int>();
    if (code < 1000 || code > 4999) co_return error(req, http::status::unprocessable_entity, "code must be 1000..4999");
    const std::string reason = r.body.value("reason", std::string("closed by the simulator"));
    auto sessions = state.sessions_of(n->key, true);
    if (sessions.empty()) sessions = state.sessions_of(n->key, false);
    for (Session* s : sessions) s->close(code, reason);
    co_return reply(req, http::status::ok, Json{{"closed", sessions.size()}});
  }
  if (what == "raw" && r.method == http::verb::post) {
    // {"node", "hex": bytes in hex, "pad_to": N (append zero bytes up to N), "text": bool}:
    // one frame the agent must survive (garbage, wrongly shaped MessagePack, oversized).
    Node* n = sim_node(state, r.body);
    if (n == nullptr) co_return error(req, http::status::not_found, "Node not found");
    const std::string hex = r.body.value("hex", std::string());
    if (hex.size() % 2 != 0 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      co_return error(req, http::status::unprocessable_entity, "hex must hold pairs of hex digits");
    }
    rpc::Bytes bytes;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      bytes.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    }
    const auto pad_to = r.body.value("pad_to", std::uint64_t{0});
    if (pad_to > (64U << 20U)) co_return error(req, http::status::unprocessable_entity, "pad_to must be at most 64 MiB");
    if (bytes.size() < pad_to) bytes.resize(pad_to, 0);
    auto sessions = state.sessions_of(n->key, true);
    if (sessions.empty()) co_return error(req, http::status::conflict, "node has no live connection");
    sessions.front()->send_raw(std::move(bytes), r.body.value("text", false));
    co_return reply(req, http::status::ok, Json{{"sent", sessions.size()}});
  }
  if (what == "request" && r.method == http::verb::post) {
    Node* n = sim_node(state, r.body);
    if (n == nullptr) co_return error(req, http::status::not_found, "Node not found");
    if (!r.body.contains("method") || !r.body["method"].is_string()) {
      co_return error(req, http::status::unprocessable_entity, "method is required");
    }
    auto sessions = state.sessions_of(n->key, true);
    if (sessions.empty()) co_return error(req, http::status::conflict, "node has no live connection");
    auto session = sessions.front()->shared_from_this();
    Json params = r.body.value("params", Json::array());
    if (!params.is_array()) params = Json::array({params});
    const auto timeout = milliseconds(r.body.value("timeout_ms", 10'000));
    auto response = co_await session->request(r.body["method"].get<std::string>(), params, timeout);
    if (!response) co_return error(req, http::status::gateway_timeout, "no response from the agent");
    co_return reply(req, http::status::ok, Json{{"error", response->error}, {"result", response->result}});
  }
  co_return error(req, http::status::not_found, "Not found");
}

}  // namespace

awaitable<HttpResponse> handle_rest(SimState& state, const HttpRequest& req) {
  state.counters.http_requests++;
  Route r{req.method(), split_path(std::string_view(req.target().data(), req.target().size())), nullptr};
  if (!req.body().empty()) {
    r.body = Json::parse(req.body(), nullptr, false);
    if (r.body.is_discarded()) {
      HttpResponse res = error(req, http::status::bad_request, "body is not JSON");
      res.set("X-Kontena-Version", state.master_version);
      co_return res;
    }
  }
  HttpResponse res;
  const auto& p = r.parts;
  const bool get = r.method == http::verb::get;
  const bool denied = p.size() >= 2 && p[0] == "v1" &&
                      (p[1] == "grids" || p[1] == "nodes" || p[1] == "services" || p[1] == "stacks" || p[1] == "containers" ||
                       p[1] == "volumes") &&
                      !authorized(state, req);
  // The service side's routes (service_rest.hpp); decided before any co_await below.
  std::optional<RestResult> services;
  const std::string_view target(req.target().data(), req.target().size());
  if (!denied) services = handle_container_logs_rest(state, r.method, p, target);  // container_logs.hpp
  if (!denied && !services) services = handle_service_rest(state, r.method, p, r.body);
  if (!denied && !services) services = handle_volume_rest(state, r.method, p, r.body);
  if (p.empty() && get) {
    res = reply(req, http::status::ok, Json{{"name", "Kontena Master"}, {"version", state.master_version}});
  } else if (p.size() == 2 && p[0] == "v1" && p[1] == "ping" && get) {
    res = reply(req, http::status::ok, Json{{"message", "pong"}});
  } else if (services) {
    res = reply(req, static_cast<http::status>(services->status), services->body);
  } else if (is_exec_route(p) && !denied) {
    auto out = co_await handle_exec_rest(state, r.method, p, r.body);
    res = reply(req, static_cast<http::status>(out.status), out.body);
  } else if (p.size() == 3 && p[0] == "v1" && p[1] == "_sim") {
    res = co_await sim_routes(state, req, r);
  } else if (denied) {
    res = error(req, http::status::unauthorized, "Unauthorized: a bearer API token is required");
  } else if (p.size() == 4 && p[0] == "v1" && p[1] == "grids" && p[3] == "nodes") {
    res = grid_nodes(state, req, r);
  } else if (p.size() == 3 && p[0] == "v1" && p[1] == "grids" && get) {
    const Grid* g = state.registry.grid(p[2]);
    res = g == nullptr ? error(req, http::status::not_found, "Grid not found")
                       : reply(req, http::status::ok,
                               Json{{"id", g->name}, {"name", g->name}, {"initial_size", g->initial_size},
                                    {"node_count", state.registry.nodes_of(g->name).size()}});
  } else if ((p.size() == 4 || p.size() == 5) && p[0] == "v1" && p[1] == "nodes") {
    res = one_node(state, req, r);
  } else {
    res = error(req, http::status::not_found, "Not found");
  }
  res.set("X-Kontena-Version", state.master_version);
  co_return res;
}

}  // namespace kn::master_sim

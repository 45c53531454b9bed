#include "service_rest.hpp"

#include "container_stats.hpp"

#include "deployer.hpp"
#include "hooks.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <regex>
#include <variant>

namespace kn::master_sim {
namespace {

namespace http = boost::beast::http;

RestResult error(int status, std::string message) { return {status, Json{{"error", std::move(message)}}}; }

enum class Kind { string, boolean, integer, number, array, object };

struct Field {
  const char* key;
  Json fallback;  // the GridService default, as the pod carries it
  Kind kind;
};

// ServicePod fields stored as given (null allowed unless the default is an array/object).
const std::vector<Field>& pod_fields() {
  static const std::vector<Field> fields = {
      {"user", nullptr, Kind::string},          {"entrypoint", nullptr, Kind::string},
      {"cpu_shares", nullptr, Kind::integer},   {"cpus", nullptr, Kind::number},
      {"privileged", nullptr, Kind::boolean},   {"read_only", false, Kind::boolean},
      {"cap_add", Json::array(), Kind::array},  {"cap_drop", Json::array(), Kind::array},
      {"devices", Json::array(), Kind::array},  {"pid", nullptr, Kind::string},
      {"net", "bridge", Kind::string},          {"volumes", Json::array(), Kind::array},
      {"volumes_from", Json::array(), Kind::array}, {"log_driver", nullptr, Kind::string},
      {"log_opts", Json::object(), Kind::object},   {"stop_signal", nullptr, Kind::string},
      {"stop_grace_period", 10, Kind::integer}, {"wait_for_port", nullptr, Kind::integer},
      {"exposed", false, Kind::boolean},        {"networks", Json::array(), Kind::array},
      {"health_check", nullptr, Kind::object},
  };
  return fields;
}

bool kind_ok(const Json& v, Kind k) {
  switch (k) {
    case Kind::string: return v.is_string();
    case Kind::boolean: return v.is_boolean();
    case Kind::integer: return v.is_number_integer();
    case Kind::number: return v.is_number();
    case Kind::array: return v.is_array();
    case Kind::object: return v.is_object();
  }
  return false;
}

// Shellwords.split, as the Kontena CLI turns a `command:` string into `cmd`.
std::optional<std::vector<std::string>> shell_split(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\'' || c == '"') {
      const auto end = text.find(c, i + 1);
      if (end == std::string::npos) return std::nullopt;
      word += text.substr(i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (in_word) out.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(word);
  return out;
}

// 512, "512", "128k", "512m", "1g" -> bytes.
std::optional<long long> bytes(const Json& v) {
  if (v.is_number_integer()) return v.get<long long>();
  if (!v.is_string()) return std::nullopt;
  static const std::regex re(R"(^(\d+)([kKmMgG]?)[bB]?$)");
  std::smatch m;
  const std::string s = v.get<std::string>();
  if (!std::regex_match(s, m, re)) return std::nullopt;
  long long n = std::stoll(m[1]);
  const char unit = m[2].length() > 0 ? static_cast<char>(std::tolower(m[2].str()[0])) : ' ';
  if (unit == 'k') n *= 1024;
  if (unit == 'm') n *= 1024 * 1024;
  if (unit == 'g') n *= 1024LL * 1024 * 1024;
  return n;
}

bool string_array(const Json& v) {
  return v.is_array() && std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_string(); });
}

// "8080:80", "8080:80/udp", "127.0.0.1:8080:80/tcp" or {node_port, container_port, protocol, ip}.
std::optional<Json> port(const Json& v) {
  if (v.is_object()) {
    if (!v.contains("node_port") || !v["node_port"].is_number_integer() || !v.contains("container_port") ||
        !v["container_port"].is_number_integer()) {
      return std::nullopt;
    }
    return Json{{"ip", v.value("ip", "0.0.0.0")},
                {"protocol", v.value("protocol", "tcp")},
                {"node_port", v["node_port"]},
                {"container_port", v["container_port"]}};
  }
  if (!v.is_string()) return std::nullopt;
  static const std::regex re(R"(^(?:([0-9.]+):)?(\d+):(\d+)(?:/(tcp|udp))?$)");
  std::smatch m;
  const std::string s = v.get<std::string>();
  if (!std::regex_match(s, m, re)) return std::nullopt;
  return Json{{"ip", m[1].matched ? m[1].str() : "0.0.0.0"},
              {"protocol", m[4].matched ? m[4].str() : "tcp"},
              {"node_port", std::stoi(m[2])},
              {"container_port", std::stoi(m[3])}};
}

// A service definition -> Service, or the 422 message.
std::variant<Service, std::string> parse_service(const Json& body, const std::string& grid, const std::string& stack) {
  if (!body.is_object()) return std::string("a service must be a JSON object");
  static const std::regex name_re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  Service s;
  s.grid = grid;
  s.stack = stack;
  for (const auto& f : pod_fields()) s.spec[f.key] = f.fallback;
  s.spec["cmd"] = nullptr;
  s.spec["memory"] = nullptr;
  s.spec["memory_swap"] = nullptr;
  s.spec["shm_size"] = nullptr;
  s.spec["ports"] = Json::array();
  s.spec["env"] = Json::array();
  s.spec["secrets"] = Json::array();
  s.spec["hooks"] = Json::array();
  for (const auto& [key, v] : body.items()) {
    const std::string where = "service " + body.value("name", std::string("?")) + ": " + key;
    if (key == "stack") {
      continue;
    } else if (key == "name") {
      if (!v.is_string() || !std::regex_match(v.get<std::string>(), name_re)) {
        return where + " must be lower-case letters, digits and '-'";
      }
      s.name = v.get<std::string>();
    } else if (key == "image") {
      if (!v.is_string() || v.get<std::string>().empty()) return where + " must be a non-empty string";
      s.image = v.get<std::string>();
    } else if (key == "strategy") {
      if (v != "ha" && v != "daemon") return where + " must be ha or daemon";
      s.strategy = v.get<std::string>();
    } else if (key == "instances") {
      if (!v.is_number_integer() || v.get<int>() < 0) return where + " must be a non-negative integer";
      s.container_count = v.get<int>();
    } else if (key == "affinity") {
      if (!string_array(v)) return where + " must be an array of strings";
      s.affinity = v.get<std::vector<std::string>>();
    } else if (key == "stateful") {
      if (!v.is_boolean()) return where + " must be true or false";
      s.stateful = v.get<bool>();
    } else if (key == "cmd" || key == "command") {
      if (v.is_string()) {
        auto words = shell_split(v.get<std::string>());
        if (!words) return where + " has an unterminated quote";
        s.spec["cmd"] = *words;
      } else if (string_array(v) || v.is_null()) {
        s.spec["cmd"] = v;
      } else {
        return where + " must be a string or an array of strings";
      }
    } else if (key == "env") {
      if (v.is_object()) {
        for (const auto& [k, val] : v.items()) {
          s.spec["env"].push_back(k + "=" + (val.is_string() ? val.get<std::string>() : val.dump()));
        }
      } else if (string_array(v)) {
        s.spec["env"] = v;
      } else {
        return where + " must be [\"K=V\", ...] or {\"K\": \"V\"}";
      }
    } else if (key == "secrets") {
      if (!v.is_array()) return where + " must be an array";
      for (const auto& sec : v) {
        if (!sec.is_object() || !sec.contains("name") || !sec["name"].is_string()) {
          return where + " entries need a name";
        }
        s.spec["secrets"].push_back(
            {{"name", sec["name"]}, {"type", sec.value("type", "env")}, {"value", sec.value("value", Json(nullptr))}});
      }
    } else if (key == "image_credentials") {
      if (!v.is_null() && (!v.is_object() || !v.contains("username") || !v.contains("password"))) {
        return where + " must be {username, password, email}";
      }
      s.image_credentials = v.is_null() ? Json(nullptr)
                                        : Json{{"username", v["username"]},
                                               {"password", v["password"]},
                                               {"email", v.value("email", Json(nullptr))}};
    } else if (key == "memory" || key == "memory_swap" || key == "shm_size") {
      if (v.is_null()) continue;
      auto b = bytes(v);
      if (!b) return where + " must be bytes or a size such as 512m";
      s.spec[key] = *b;
    } else if (key == "ports") {
      if (!v.is_array()) return where + " must be an array";
      for (const auto& p : v) {
        auto parsed = port(p);
        if (!parsed) return where + " entries must be \"NODE:CONTAINER[/tcp|udp]\" or {node_port, container_port}";
        s.spec["ports"].push_back(*parsed);
      }
    } else if (key == "hooks") {
      auto hooks = parse_service_hooks(v);
      if (auto* problem = std::get_if<std::string>(&hooks)) return where + *problem;
      s.spec["hooks"] = std::move(std::get<Json>(hooks));
    } else {
      const Field* field = nullptr;
      for (const auto& f : pod_fields()) {
        if (key == f.key) field = &f;
      }
      if (field == nullptr) return "unknown service setting '" + key + "'";
      const bool nullable = !field->fallback.is_array() && !field->fallback.is_object();
      if (!(v.is_null() && nullable) && !kind_ok(v, field->kind)) return where + " has the wrong type";
      s.spec[key] = v;
    }
  }
  if (s.name.empty()) return std::string("a service needs a name");
  if (s.image.empty()) return "service " + s.name + ": image is required";
  s.created_at = s.updated_at = now();
  s.definition = body;
  s.definition.erase("stack");
  return s;
}

// GridServices::Update: the changed settings bump the revision and updated_at, so the
// GridSchedulerJob redeploys the service ("does have older version running").
RestResult update_service(SimState& st, Service& s, const Json& changes) {
  if (!changes.is_object()) return error(422, "the body must be a JSON object");
  if (changes.contains("name") && changes["name"] != s.name) return error(422, "a service cannot be renamed");
  Json merged = s.definition;
  for (const auto& [k, v] : changes.items()) merged[k] = v;
  auto parsed = parse_service(merged, s.grid, s.stack);
  if (auto* problem = std::get_if<std::string>(&parsed)) return error(422, *problem);
  Service& next = std::get<Service>(parsed);
  keep_hook_progress(next.spec["hooks"], s.spec["hooks"]);
  const bool changed = next.image != s.image || next.strategy != s.strategy ||
                       next.container_count != s.container_count || next.affinity != s.affinity ||
                       next.stateful != s.stateful || next.spec != s.spec ||
                       next.image_credentials != s.image_credentials;
  s.definition = next.definition;
  if (changed) {
    s.image = next.image;
    s.strategy = next.strategy;
    s.container_count = next.container_count;
    s.affinity = next.affinity;
    s.stateful = next.stateful;
    s.spec = next.spec;
    s.image_credentials = next.image_credentials;
    s.revision++;
    s.updated_at = now();
    st.log->info("service updated service={} revision={}", s.to_path(), s.revision);
  }
  return {200, service_json(st.registry, st.services, s)};
}

bool grid_exists(SimState& st, const std::string& grid) { return st.registry.grid(grid) != nullptr; }

RestResult stack_json(SimState& st, const std::string& grid, const std::string& stack, int status = 200) {
  Json services = Json::array();
  for (Service* s : st.services.of_stack(grid, stack)) services.push_back(service_json(st.registry, st.services, *s));
  return {status, Json{{"id", grid + "/" + stack}, {"name", stack}, {"services", services}}};
}

RestResult create_stack(SimState& st, const std::string& grid, const Json& body) {
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
    return error(422, "name is required");
  }
  const std::string stack = body["name"].get<std::string>();
  static const std::regex name_re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  if (!std::regex_match(stack, name_re) || stack == kNullStack) {
    return error(422, "stack name must be lower-case letters, digits and '-'");
  }
  if (!st.services.of_stack(grid, stack).empty()) return error(422, "stack " + stack + " already exists");
  if (!body.contains("services") || !body["services"].is_array() || body["services"].empty()) {
    return error(422, "services must be a non-empty array");
  }
  std::vector<Service> parsed;
  for (const auto& def : body["services"]) {
    auto s = parse_service(def, grid, stack);
    if (auto* problem = std::get_if<std::string>(&s)) return error(422, *problem);
    for (const auto& other : parsed) {
      if (other.name == std::get<Service>(s).name) return error(422, "service " + other.name + " is defined twice");
    }
    parsed.push_back(std::get<Service>(std::move(s)));
  }
  std::vector<Service*> added;
  for (auto& s : parsed) added.push_back(st.services.add(std::move(s)));
  st.log->info("stack created grid={} stack={} services={}", grid, stack, added.size());
  Json deploys = Json::array();
  if (body.value("deploy", true)) {
    for (Service* s : added) deploys.push_back(request_deploy(st, *s));
  }
  auto out = stack_json(st, grid, stack, 201);
  out.body["deploys"] = deploys;
  return out;
}

}  // namespace

std::optional<RestResult> handle_service_rest(SimState& st, http::verb method, const std::vector<std::string>& p,
                                              const Json& body) {
  const bool get = method == http::verb::get, post = method == http::verb::post, del = method == http::verb::delete_;
  if (p.size() == 3 && p[0] == "v1" && p[1] == "_sim" && p[2] == "containers" && get) {
    Json list = Json::array();
    for (const auto& [id, c] : st.services.containers()) list.push_back(container_json(st.registry, c));
    return RestResult{200, Json{{"containers", list}}};
  }
  if (p.size() < 3 || p[0] != "v1") return std::nullopt;

  if (p[1] == "grids" && p.size() == 4 && p[3] == "external_registries") {
    const std::string& grid = p[2];
    if (!grid_exists(st, grid)) return error(404, "Grid not found");
    auto& known = st.services.registries(grid);
    auto shown = [&](const Json& r) {
      return Json{{"id", grid + "/" + r["name"].get<std::string>()},
                  {"name", r["name"]},
                  {"url", r["url"]},
                  {"username", r["username"]},
                  {"email", r.value("email", Json(nullptr))}};
    };
    if (get) {
      Json list = Json::array();
      for (const auto& [name, r] : known) list.push_back(shown(r));
      return RestResult{200, Json{{"external_registries", list}}};
    }
    if (!post) return error(405, "Method not allowed");
    // Registries::Create: the name is the URL's host, with the port unless it is 80 or 443.
    static const std::regex url_re(R"(^(https?)://([^/:\s]+)(?::(\d+))?(/\S*)?$)");
    std::smatch m;
    const std::string url = body.is_object() ? body.value("url", "") : "";
    if (!std::regex_match(url, m, url_re)) return error(422, "url must be http(s)://host[:port]");
    if (!body.contains("username") || !body["username"].is_string() || !body.contains("password") ||
        !body["password"].is_string()) {
      return error(422, "username and password are required");
    }
    const std::string port = m[3].matched ? m[3].str() : (m[1] == "https" ? "443" : "80");
    const std::string name = port == "80" || port == "443" ? m[2].str() : m[2].str() + ":" + port;
    known[name] = {{"name", name},
                   {"url", url},
                   {"username", body["username"]},
                   {"password", body["password"]},
                   {"email", body.value("email", Json(nullptr))}};
    st.log->info("registry added grid={} name={}", grid, name);
    return RestResult{201, shown(known[name])};
  }

  if (p[1] == "grids" && p.size() == 4 && (p[3] == "stacks" || p[3] == "services")) {
    const std::string& grid = p[2];
    if (!grid_exists(st, grid)) return error(404, "Grid not found");
    if (p[3] == "stacks") {
      if (!post) return error(405, "Method not allowed");
      return create_stack(st, grid, body);
    }
    if (get) {
      Json list = Json::array();
      for (Service* s : st.services.of_grid(grid)) list.push_back(service_json(st.registry, st.services, *s));
      return RestResult{200, Json{{"services", list}}};
    }
    if (!post) return error(405, "Method not allowed");
    const std::string stack = body.is_object() ? body.value("stack", std::string(kNullStack)) : kNullStack;
    auto s = parse_service(body, grid, stack);
    if (auto* problem = std::get_if<std::string>(&s)) return error(422, *problem);
    Service* added = st.services.add(std::get<Service>(std::move(s)));
    if (added == nullptr) return error(422, "service " + stack + "/" + body.value("name", "") + " already exists");
    st.log->info("service created service={}", added->to_path());
    return RestResult{201, service_json(st.registry, st.services, *added)};
  }

  if (p[1] == "stacks" && (p.size() == 4 || p.size() == 5)) {
    const std::string &grid = p[2], &stack = p[3];
    if (!grid_exists(st, grid)) return error(404, "Grid not found");
    if (st.services.of_stack(grid, stack).empty()) return error(404, "Stack not found");
    if (p.size() == 5) {
      if (p[4] != "deploy" || !post) return error(404, "Not found");
      Json deploys = Json::array();
      for (Service* s : st.services.of_stack(grid, stack)) deploys.push_back(request_deploy(st, *s));
      return RestResult{200, Json{{"deploys", deploys}}};
    }
    if (get) return stack_json(st, grid, stack);
    if (del) {
      st.log->info("stack removed grid={} stack={}", grid, stack);
      remove_stack(st, grid, stack);
      return RestResult{200, Json::object()};
    }
    return error(405, "Method not allowed");
  }

  if (p[1] == "services" && (p.size() == 5 || p.size() == 6)) {
    const std::string& grid = p[2];
    if (!grid_exists(st, grid)) return error(404, "Grid not found");
    Service* s = st.services.find(grid, p[3], p[4]);
    if (s == nullptr) return error(404, "Service not found");
    if (p.size() == 6) {
      if (auto routed = service_container_routes(st, *s, p[5], method)) return routed;
      if (!post) return error(405, "Method not allowed");
      if (p[5] == "deploy") return RestResult{200, Json{{"id", request_deploy(st, *s)}}};
      if (p[5] == "start") {
        start_service(st, *s);
        return RestResult{200, Json::object()};
      }
      if (p[5] == "stop") {
        stop_service(st, *s);
        return RestResult{200, Json::object()};
      }
      return error(404, "Not found");
    }
    if (get) return RestResult{200, service_json(st.registry, st.services, *s)};
    if (method == http::verb::put) return update_service(st, *s, body);
    if (del) {
      delete_service(st, s->id);
      return RestResult{200, Json::object()};
    }
    return error(405, "Method not allowed");
  }
  return std::nullopt;
}

}  // namespace kn::master_sim

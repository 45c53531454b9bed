#include "container_stats.hpp"

#include <algorithm>
#include <sstream>
#include <vector>

namespace kn::master_sim {

namespace {

std::vector<const ContainerRecord*> live_containers(SimState& st, const Service& s) {
  std::vector<const ContainerRecord*> out;
  for (const auto& [id, c] : st.services.containers()) {
    if (c.service_id == s.id && c.container_type == "container" && !c.deleted_at) out.push_back(&c);
  }
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
  return out;
}

Json value_at(const Json& doc, const char* a, const char* b) {
  if (!doc.is_object() || !doc.contains(a) || !doc[a].is_object() || !doc[a].contains(b)) return nullptr;
  return doc[a][b];
}

}  // namespace

int cpu_mask_cores(const std::string& mask) {
  int cores = 0;
  std::stringstream in(mask);
  std::string part;
  while (std::getline(in, part, ',')) {
    const auto dash = part.find('-');
    try {
      if (dash == std::string::npos) {
        if (part.empty()) continue;
        (void)std::stoi(part);  // throws on a malformed mask
        ++cores;
      } else {
        cores += std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
      }
    } catch (const std::exception&) {
      return 0;
    }
  }
  return cores;
}

bool store_container_stat(SimState& st, const std::string& grid, const Json& stat) {
  if (!stat.is_object()) return false;
  const Json id = stat.value("id", Json(nullptr));
  if (!id.is_string()) return true;
  auto& containers = st.services.containers();
  auto it = containers.find(id.get<std::string>());
  if (it == containers.end() || it->second.grid != grid) return true;
  it->second.stats = stat;
  return true;
}

std::optional<RestResult> service_container_routes(SimState& st, const Service& s, const std::string& action,
                                                   boost::beast::http::verb method) {
  if (action != "containers" && action != "container_stats") return std::nullopt;
  if (method != boost::beast::http::verb::get) return RestResult{405, Json{{"error", "Method not allowed"}}};
  Json list = Json::array();
  for (const auto* c : live_containers(st, s)) {
    if (action == "containers") {
      list.push_back(container_json(st.registry, *c));
      continue;
    }
    Json entry{{"container_id", c->name}, {"cpu", nullptr}, {"memory", nullptr}, {"network", nullptr}};
    if (c->stats.is_object()) {
      const Json& stat = c->stats;
      const Json mask = value_at(stat.value("spec", Json::object()), "cpu", "mask");
      entry["cpu"] = {{"usage", value_at(stat, "cpu", "usage_pct")},
                      {"limit", value_at(stat.value("spec", Json::object()), "cpu", "limit")},
                      {"num_cores", mask.is_string() ? cpu_mask_cores(mask.get<std::string>()) : 0}};
      entry["memory"] = {{"usage", value_at(stat, "memory", "usage")},
                         {"limit", value_at(stat.value("spec", Json::object()), "memory", "limit")}};
      entry["network"] = stat.value("network", Json(nullptr));
    }
    list.push_back(entry);
  }
  return RestResult{200, Json{{action == "containers" ? "containers" : "stats", list}}};
}

}  // namespace kn::master_sim

#include "hooks.hpp"

#include <atomic>
#include <cstdio>
#include <optional>

namespace kn::master_sim {
namespace {

bool known_type(const std::string& t) { return t == "pre_start" || t == "post_start" || t == "pre_stop"; }

std::optional<Json> instances_of(const Json& v) {
  if (v.is_null()) return Json::array({"*"});
  if (v.is_number_integer()) return Json::array({std::to_string(v.get<long long>())});
  Json out = Json::array();
  auto add_text = [&](const std::string& text) {
    std::size_t start = 0;
    while (start <= text.size()) {
      auto comma = text.find(',', start);
      if (comma == std::string::npos) comma = text.size();
      std::string part = text.substr(start, comma - start);
      while (!part.empty() && part.front() == ' ') part.erase(0, 1);
      while (!part.empty() && part.back() == ' ') part.pop_back();
      if (!part.empty()) out.push_back(part);
      start = comma + 1;
    }
  };
  if (v.is_string()) {
    add_text(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) return std::nullopt;
  for (const auto& e : v) {
    if (e.is_number_integer()) out.push_back(std::to_string(e.get<long long>()));
    else if (e.is_string()) add_text(e.get<std::string>());
    else return std::nullopt;
  }
  return out;
}

std::string new_id() {
  static std::atomic<unsigned> next{0};
  char id[32];
  std::snprintf(id, sizeof id, "%024x", ++next);
  return id;
}

}  // namespace

std::variant<Json, std::string> parse_service_hooks(const Json& definition) {
  Json entries = Json::array();
  if (definition.is_object()) {
    for (const auto& [type, list] : definition.items()) {
      if (!list.is_array()) return std::string(" must map pre_start, post_start and pre_stop to lists");
      for (auto h : list) {
        if (!h.is_object()) return std::string(" entries must be objects");
        h["type"] = type;
        entries.push_back(h);
      }
    }
  } else if (definition.is_array()) {
    entries = definition;
  } else if (!definition.is_null()) {
    return std::string(" must be {pre_start: [...], post_start: [...], pre_stop: [...]}");
  }
  Json hooks = Json::array();
  for (const auto& h : entries) {
    if (!h.is_object() || !h.contains("type") || !h["type"].is_string() || !known_type(h["type"].get<std::string>())) {
      return std::string(" entries need a type: pre_start, post_start or pre_stop");
    }
    if (!h.contains("cmd") || !h["cmd"].is_string()) return std::string(" entries need a cmd string");
    auto instances = instances_of(h.value("instances", Json(nullptr)));
    if (!instances) return std::string(" instances must be a number, \"*\", \"1,2\" or a list");
    hooks.push_back({{"id", new_id()},
                     {"name", h.value("name", h["cmd"].get<std::string>())},
                     {"type", h["type"]},
                     {"cmd", h["cmd"]},
                     {"oneshot", h.value("oneshot", false)},
                     {"instances", *instances},
                     {"done", Json::array()}});
  }
  return hooks;
}

void keep_hook_progress(Json& next, const Json& current) {
  if (!next.is_array() || !current.is_array()) return;
  for (auto& h : next) {
    for (const auto& old : current) {
      if (old.value("name", "") == h.value("name", "") && old.value("type", "") == h.value("type", "")) {
        h["id"] = old["id"];
        h["done"] = old.value("done", Json::array());
        break;
      }
    }
  }
}

}  // namespace kn::master_sim

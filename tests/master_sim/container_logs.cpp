#include "container_logs.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>

namespace kn::master_sim {
namespace {

constexpr int kLimitDefault = 100;  // LogsHelpers::LOGS_LIMIT_DEFAULT
constexpr int kLimitMax = 10000;    // LogsHelpers::LOGS_LIMIT_MAX

// The query of a request target as name -> raw value (the values used here are plain ids and numbers).
std::map<std::string, std::string> query_of(std::string_view target) {
  std::map<std::string, std::string> out;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    out[std::string(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  return out;
}

// Ruby's String#to_i: leading digits, 0 otherwise.
int to_i(const std::string& text) {
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// A Mongoid time as Rails renders it into JSON: milliseconds, "Z".
std::string rails_time(SysTime t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  const auto secs = std::chrono::floor<std::chrono::seconds>(ms);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", std::chrono::sys_seconds(secs),
                     (ms - secs).count());
}

Json log_json(const ContainerLog& log) {
  return {{"id", log.id},
          {"container_id", log.container_id},
          {"service_id", log.service_id},
          {"grid_id", log.grid},
          {"name", log.name},
          {"instance_number", log.instance_number},
          {"created_at", rails_time(log.created_at)},
          {"type", log.type},
          {"data", log.data}};
}

}  // namespace

void ContainerLogStore::add(ContainerLog log) {
  log.id = fmt::format("{:024x}", ++next_);
  logs_.push_back(std::move(log));
}

void store_log_batch(SimState& state, const std::string& grid, const Json& params) {
  const Json& lines = params.is_array() && !params.empty() ? params[0] : Json();
  if (!lines.is_array()) return;
  auto& containers = state.services.containers();
  std::size_t dropped = 0;
  for (const auto& line : lines) {
    if (!line.is_object() || !line.contains("id") || !line["id"].is_string()) continue;
    auto it = containers.find(line["id"].get<std::string>());
    if (it == containers.end() || it->second.grid != grid) {
      ++dropped;
      continue;
    }
    const auto& c = it->second;
    ContainerLog log;
    log.grid = grid;
    log.service_id = c.service_id;
    log.container_id = c.container_id;
    log.name = c.name;
    log.instance_number = c.instance_number.value_or(0);
    const auto time = line.contains("time") && line["time"].is_string()
                          ? parse_kontena_time(line["time"].get<std::string>())
                          : std::nullopt;
    log.created_at = time.value_or(now());
    log.type = line.value("type", Json("")).is_string() ? line.value("type", "") : "";
    log.data = line.value("data", Json("")).is_string() ? line.value("data", "") : line.value("data", Json()).dump();
    state.container_logs.add(std::move(log));
  }
  if (dropped > 0) state.log->debug("log_batch: dropped {} line(s) of unknown containers", dropped);
}

std::optional<RestResult> handle_container_logs_rest(SimState& state, boost::beast::http::verb method,
                                                     const std::vector<std::string>& p, std::string_view target) {
  if (method != boost::beast::http::verb::get || p.size() != 6 || p[0] != "v1" || p[1] != "services" ||
      p[5] != "container_logs") {
    return std::nullopt;
  }
  const Service* svc = state.services.find(p[2], p[3], p[4]);
  if (svc == nullptr) return RestResult{404, Json{{"error", "Not found"}}};
  const auto query = query_of(target);
  int limit = query.contains("limit") ? to_i(query.at("limit")) : 0;
  if (limit <= 0) limit = kLimitDefault;
  limit = std::min(limit, kLimitMax);

  std::vector<const ContainerLog*> picked;
  const auto& all = state.container_logs.all();
  if (auto from = query.find("from"); from != query.end()) {
    for (const auto& log : all) {
      if (static_cast<int>(picked.size()) == limit) break;
      if (log.service_id == svc->id && log.id > from->second) picked.push_back(&log);
    }
  } else {
    for (auto it = all.rbegin(); it != all.rend() && static_cast<int>(picked.size()) < limit; ++it) {
      if (it->service_id == svc->id) picked.push_back(&*it);
    }
    std::reverse(picked.begin(), picked.end());
  }
  Json logs = Json::array();
  for (const auto* log : picked) logs.push_back(log_json(*log));
  return RestResult{200, Json{{"logs", std::move(logs)}}};
}

}  // namespace kn::master_sim

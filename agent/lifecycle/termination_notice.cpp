#include "lifecycle/termination_notice.hpp"

#include <nlohmann/json.hpp>

namespace kn::lifecycle {
namespace {

Result<nlohmann::json> parse_object(std::string_view body, std::string_view path) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(Errc::imds_bad_response, "failed to read " + std::string(path) + ": the answer is not a JSON object");
  }
  return j;
}

std::optional<std::string> string_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return std::nullopt;
  return j[key].get<std::string>();
}

}  // namespace

std::string_view to_string(NoticeSource source) {
  switch (source) {
    case NoticeSource::spot: return "spot instance-action";
    case NoticeSource::autoscaling: return "autoscaling target-lifecycle-state";
    case NoticeSource::rebalance: return "rebalance recommendation";
  }
  return "notice";
}

std::string Notice::describe() const {
  switch (source) {
    case NoticeSource::spot: return "spot instance-action " + action + " at " + time;
    case NoticeSource::autoscaling: return "autoscaling target-lifecycle-state " + action + " (seen at " + time + ")";
    case NoticeSource::rebalance: return "rebalance recommendation noticed at " + time;
  }
  return action;
}

Result<Notice> parse_spot_action(std::string_view body) {
  constexpr std::string_view path = "meta-data/spot/instance-action";
  auto j = parse_object(body, path);
  if (!j) return j.error();
  auto action = string_field(*j, "action");
  auto time = string_field(*j, "time");
  if (!action || !time || (*action != "terminate" && *action != "stop" && *action != "hibernate")) {
    return fail(Errc::imds_bad_response, "failed to read " + std::string(path) +
                                             ": expected {\"action\": \"terminate|stop|hibernate\", \"time\": ...}");
  }
  return Notice{.source = NoticeSource::spot, .action = *action, .time = *time,
                .terminates = *action == "terminate", .drains = true};
}

Result<Notice> parse_rebalance(std::string_view body) {
  constexpr std::string_view path = "events/recommendations/rebalance";
  auto j = parse_object(body, path);
  if (!j) return j.error();
  auto time = string_field(*j, "noticeTime");
  if (!time) return fail(Errc::imds_bad_response, "failed to read " + std::string(path) + ": no noticeTime");
  return Notice{.source = NoticeSource::rebalance, .action = "rebalance", .time = *time};
}

std::optional<Notice> autoscaling_notice(std::string_view state, std::string seen_at) {
  if (state != "Terminated") return std::nullopt;
  return Notice{.source = NoticeSource::autoscaling, .action = std::string(state), .time = std::move(seen_at),
                .terminates = true, .drains = true};
}

}  // namespace kn::lifecycle

// What an instance learns from IMDS before it goes away, read from the three paths that carry it:
// - meta-data/spot/instance-action: {"action": "terminate|stop|hibernate", "time": "...Z"}, two
//   minutes ahead (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html);
// - meta-data/autoscaling/target-lifecycle-state: "InService", "Terminated", "Standby", ...
//   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html);
// - events/recommendations/rebalance: {"noticeTime": "...Z"}
//   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html).
// A 404 on each means nothing is pending; that is the caller's empty optional, not a notice.
#pragma once

#include "core/error.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace kn::lifecycle {

enum class NoticeSource { spot, autoscaling, rebalance };

struct Notice {
  NoticeSource source = NoticeSource::spot;
  std::string action;  // terminate, stop, hibernate; Terminated (ASG); rebalance
  std::string time;    // when it happens (spot), was noticed (rebalance) or was seen (ASG), as given
  // The instance goes away for good: the node leaves the grid (drain now, removal at the stop).
  // A spot stop or hibernation comes back with the same node id, so it is only drained.
  bool terminates = false;
  // The node should be drained: every spot action and the ASG's Terminated; a rebalance
  // recommendation is only reported (the instance may well stay).
  bool drains = false;

  // "spot instance-action terminate at 2026-11-30T17:02:00Z", for logs and systemd STATUS=.
  std::string describe() const;
  bool operator==(const Notice&) const = default;
};

std::string_view to_string(NoticeSource source);

// Errc::imds_bad_response when the body is not the documented JSON (the watcher reports it
// and keeps polling).
Result<Notice> parse_spot_action(std::string_view body);
Result<Notice> parse_rebalance(std::string_view body);
// A notice only for "Terminated"; other states (InService, Standby, Warmed:*) are none.
// `seen_at` is the time of the read (the state carries no time of its own).
std::optional<Notice> autoscaling_notice(std::string_view state, std::string seen_at);

}  // namespace kn::lifecycle

// The IMDSv2 session token, cached until shortly before it expires.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
//
// A token is reusable for its whole TTL; asking for one per request (as some agents do)
// doubles the request count and the throttling risk. We refresh it once its remaining life
// drops below the margin, and drop it when IMDS answers 401 to it.
#pragma once

#include "core/clock.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kn::imds {

class TokenCache {
 public:
  TokenCache(Clock& clock, std::chrono::seconds refresh_margin) : clock_(clock), margin_(refresh_margin) {}

  // The cached token if it stays valid for longer than the refresh margin.
  std::optional<std::string_view> current() const;
  void store(std::string token, std::chrono::seconds ttl);
  void invalidate() { token_.clear(); }

 private:
  Clock& clock_;
  std::chrono::seconds margin_;
  std::string token_;
  Clock::time_point expires_{};
};

}  // namespace kn::imds

// IMDS client: IMDSv2 tokens with IMDSv1 fallback, bounded jittered retries inside a
// deadline, 404 as absence, and the diagnoses users need at 3 a.m. (IMDS disabled, hop
// limit too low). See https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html.
//
// Blocking; one client per thread (it owns no threads, the transport is not thread-safe).
#pragma once

#include "core/clock.hpp"
#include "core/error.hpp"
#include "http/http_transport.hpp"
#include "imds/token_cache.hpp"

#include <chrono>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kn::imds {

// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
inline constexpr std::string_view kDefaultEndpointV4 = "http://169.254.169.254";
inline constexpr std::string_view kDefaultEndpointV6 = "http://[fd00:ec2::254]";
// Token TTL bounds: 1 s to 6 h.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
inline constexpr std::chrono::seconds kMaxTokenTtl{21600};

struct Options {
  std::string endpoint{kDefaultEndpointV4};
  bool v1_fallback = true;                        // false: AWS_EC2_METADATA_V1_DISABLED
  std::chrono::seconds token_ttl = kMaxTokenTtl;
  std::chrono::milliseconds request_timeout{1000};  // one request, the token PUT included
  std::chrono::milliseconds deadline{60000};        // all retries of one read together
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{1000};      // IMDS is local: poll often once it is back
  std::size_t max_response_bytes = 64U * 1024U;
};

// AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: which link-local address IMDS has.
enum class EndpointMode { ipv4, ipv6 };

// Resolves the endpoint from an explicit URL (flag/AWS_EC2_METADATA_SERVICE_ENDPOINT) or the
// endpoint mode.
Result<std::string> resolve_endpoint(const std::optional<std::string>& explicit_url, EndpointMode mode);

class Client {
 public:
  Client(http::Transport& transport, Clock& clock, Options options);

  // GET /latest/<path> (e.g. "meta-data/placement/availability-zone-id"). A 404 is an empty
  // optional, never an error and never cached. Retries connection errors, 5xx and 429
  // (honouring Retry-After) until `deadline`.
  Result<std::optional<std::string>> get(std::string_view path, Clock::time_point deadline);

  // As get for each path, the values in the order of `paths`. The GETs go out at the same
  // time, each on a new connection (http::Transport::perform_all): one round trip after the
  // token, and no answer waits for our delayed ACK, as on a kept-alive connection to a server
  // that writes head and body apart with Nagle on (~40 ms a GET; docs/architecture.md).
  // Keys that need another try are asked again together; the first failing key (in the
  // order of `paths`) fails the whole read.
  Result<std::vector<std::optional<std::string>>> get_many(std::span<const std::string_view> paths,
                                                           Clock::time_point deadline);

  Clock::time_point deadline_from_now() { return clock_.now() + options_.deadline; }
  const Options& options() const { return options_; }
  // True once the client settled on token-less IMDSv1 (no tokens issued, or hop limit).
  bool used_v1() const { return protocol_ == Protocol::v1; }

 private:
  enum class Protocol { unknown, v2, v1 };
  struct Step;  // outcome of one token or metadata exchange

  Step fetch_token(Clock::time_point deadline);
  Step diagnose_token_timeout(const std::string& cause, Clock::time_point deadline);
  http::Request make_request(std::string method, std::string_view path, Clock::time_point deadline) const;
  std::chrono::milliseconds backoff(int attempt);

  http::Transport& transport_;
  Clock& clock_;
  Options options_;
  TokenCache tokens_;
  Protocol protocol_ = Protocol::unknown;
  std::minstd_rand rng_;
};

}  // namespace kn::imds

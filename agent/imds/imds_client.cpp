#include "imds/imds_client.hpp"

#include "core/logging.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>

namespace kn::imds {
namespace {

// Header names: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
constexpr std::string_view kTokenHeader = "X-aws-ec2-metadata-token";
constexpr std::string_view kTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
constexpr std::string_view kTtlHeaderLower = "x-aws-ec2-metadata-token-ttl-seconds";
constexpr std::string_view kUserAgent = "kontena-node/" KN_VERSION;

// How to raise the hop limit: the PUT response's IP TTL defaults to 1, which a container
// behind a bridge never receives. https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-options.html
constexpr std::string_view kHopLimitFix =
    "raise the PUT response hop limit to 2 (aws ec2 modify-instance-metadata-options --instance-id <id> "
    "--http-put-response-hop-limit 2, or MetadataOptions.HttpPutResponseHopLimit=2 in the launch template)";
constexpr std::string_view kDisabledFix =
    "enable the endpoint (aws ec2 modify-instance-metadata-options --instance-id <id> --http-endpoint enabled, "
    "or MetadataOptions.HttpEndpoint=enabled in the launch template)";

std::optional<std::chrono::milliseconds> retry_after(const http::Response& r) {
  auto v = r.header("retry-after");
  if (!v) return std::nullopt;
  int seconds = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), seconds);
  if (ec != std::errc{} || seconds < 0) return std::nullopt;
  return std::chrono::seconds(std::min(seconds, 60));
}

bool retryable_status(long status) { return status == 429 || status >= 500; }

std::string format_seconds(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms / 1000) + "." + std::to_string((ms % 1000) / 100) + " s";
}

std::string status_text(long status) { return "HTTP " + std::to_string(status); }

}  // namespace

Result<std::string> resolve_endpoint(const std::optional<std::string>& explicit_url, EndpointMode mode) {
  if (!explicit_url) return std::string(mode == EndpointMode::ipv6 ? kDefaultEndpointV6 : kDefaultEndpointV4);
  auto parsed = boost::urls::parse_absolute_uri(*explicit_url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") || parsed->host().empty()) {
    return fail(Errc::config_invalid, "invalid IMDS endpoint '" + *explicit_url +
                                          "': use http://host[:port] (AWS_EC2_METADATA_SERVICE_ENDPOINT)");
  }
  std::string url = *explicit_url;
  while (url.ends_with('/')) url.pop_back();
  return url;
}

struct Client::Step {
  enum class Kind { done, retry, fatal } kind = Kind::done;
  std::optional<std::string> value;              // done: token or metadata value (empty: none/404)
  std::optional<std::chrono::milliseconds> wait;  // retry: server-requested wait
  std::string cause;                              // retry: why
  std::optional<Failure> failure;                 // fatal

  static Step ok(std::optional<std::string> v) { return Step{.kind = Kind::done, .value = std::move(v)}; }
  static Step again(std::string why, std::optional<std::chrono::milliseconds> w = std::nullopt) {
    return Step{.kind = Kind::retry, .wait = w, .cause = std::move(why)};
  }
  static Step stop(Failure f) { return Step{.kind = Kind::fatal, .failure = std::move(f)}; }
};

Client::Client(http::Transport& transport, Clock& clock, Options options)
    : transport_(transport),
      clock_(clock),
      options_(std::move(options)),
      tokens_(clock, std::min<std::chrono::seconds>(std::chrono::seconds(60), options_.token_ttl / 4)),
      rng_(std::random_device{}()) {
  options_.token_ttl = std::clamp(options_.token_ttl, std::chrono::seconds(1), kMaxTokenTtl);
}

http::Request Client::make_request(std::string method, std::string_view path, Clock::time_point deadline) const {
  http::Request req;
  req.method = std::move(method);
  req.url = options_.endpoint + "/latest/" + std::string(path);
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.now());
  req.timeout = std::clamp(remaining, std::chrono::milliseconds(1), options_.request_timeout);
  req.connect_timeout = req.timeout;
  req.max_response_bytes = options_.max_response_bytes;
  req.allow_proxy = false;
  req.headers.emplace_back("User-Agent", kUserAgent);
  return req;
}

std::chrono::milliseconds Client::backoff(int attempt) {
  // Exponential with "equal jitter": half fixed, half random, so retries from many
  // instances booting together spread out but never collapse to zero.
  const auto exp = options_.backoff_base * (1LL << std::min(attempt, 10));
  const auto ceiling = std::min<std::chrono::milliseconds>(exp, options_.backoff_cap);
  std::uniform_int_distribution<std::int64_t> dist(0, ceiling.count() / 2);
  return std::chrono::milliseconds(ceiling.count() / 2 + dist(rng_));
}

Client::Step Client::fetch_token(Clock::time_point deadline) {
  if (auto cached = tokens_.current()) return Step::ok(std::string(*cached));
  auto logger = log::get("imds");
  auto req = make_request("PUT", "api/token", deadline);
  req.headers.emplace_back(kTtlHeader, std::to_string(options_.token_ttl.count()));
  auto res = transport_.perform(req);
  if (!res) {
    if (res.error().is(Errc::http_timeout)) return diagnose_token_timeout(res.error().message, deadline);
    return Step::again("token request: " + res.error().message);
  }
  logger->debug("PUT api/token -> {} ({} ms)", res->status, res->elapsed.count());
  switch (res->status) {
    case 200: {
      if (res->body.empty()) return Step::again("token request: empty token");
      auto ttl = options_.token_ttl;
      if (auto h = res->header(kTtlHeaderLower)) {
        int granted = 0;
        if (std::from_chars(h->data(), h->data() + h->size(), granted).ec == std::errc{} && granted > 0) {
          ttl = std::chrono::seconds(granted);
        }
      }
      tokens_.store(res->body, ttl);
      if (protocol_ != Protocol::v2) logger->debug("using IMDSv2 (token ttl {} s)", ttl.count());
      protocol_ = Protocol::v2;
      return Step::ok(std::move(res->body));
    }
    case 403:
      return Step::stop(fail(Errc::imds_disabled, "failed to get an IMDSv2 token from " + options_.endpoint +
                                                      ": 403 Forbidden: the instance metadata endpoint is disabled; " +
                                                      std::string(kDisabledFix)));
    case 404:
    case 405:
      // Not an AWS IMDS (an EC2 clone without IMDSv2): only v1 can work.
      if (!options_.v1_fallback) {
        return Step::stop(fail(Errc::imds_token_required,
                               "failed to get an IMDSv2 token from " + options_.endpoint + ": " +
                                   status_text(res->status) +
                                   " and IMDSv1 is disabled (unset AWS_EC2_METADATA_V1_DISABLED to allow it)"));
      }
      logger->warn("IMDS at {} does not issue tokens ({}); using IMDSv1", options_.endpoint, status_text(res->status));
      protocol_ = Protocol::v1;
      return Step::ok(std::nullopt);
    default:
      if (retryable_status(res->status) || res->status == 401) {
        return Step::again("token request: " + status_text(res->status), retry_after(*res));
      }
      return Step::stop(fail(Errc::imds_bad_response,
                             "failed to get an IMDSv2 token: unexpected " + status_text(res->status)));
  }
}

Client::Step Client::diagnose_token_timeout(const std::string& cause, Clock::time_point deadline) {
  // The hop-limit symptom: the PUT's answer is dropped on its way back (IP TTL 1), while
  // plain GETs, whose answers are not limited, come back at once. Probe with one GET.
  auto logger = log::get("imds");
  auto probe = transport_.perform(make_request("GET", "meta-data/", deadline));
  if (!probe) return Step::again("token request: " + cause);
  logger->debug("GET meta-data/ (token-less probe) -> {}", probe->status);
  if (probe->status == 401) {
    return Step::stop(fail(Errc::imds_hop_limit,
                           "failed to get an IMDSv2 token: the token request timed out while IMDS answers other "
                           "requests (401 without a token): the PUT response hop limit is too low for this network "
                           "path, typical inside a container; " + std::string(kHopLimitFix)));
  }
  if (probe->status == 200) {
    if (!options_.v1_fallback) {
      return Step::stop(fail(Errc::imds_hop_limit,
                             "failed to get an IMDSv2 token: the token request timed out while IMDS answers "
                             "other requests, and IMDSv1 is disabled; " + std::string(kHopLimitFix)));
    }
    logger->warn("IMDSv2 token request timed out but IMDSv1 answers: falling back to IMDSv1; {}", kHopLimitFix);
    protocol_ = Protocol::v1;
    return Step::ok(std::nullopt);
  }
  return Step::again("token request: " + cause);
}

Result<std::optional<std::string>> Client::get(std::string_view path, Clock::time_point deadline) {
  auto values = get_many(std::span(&path, 1), deadline);
  if (!values) return values.error();
  return std::move(values->front());
}

Result<std::vector<std::optional<std::string>>> Client::get_many(std::span<const std::string_view> paths,
                                                                 Clock::time_point deadline) {
  auto logger = log::get("imds");
  std::vector<std::optional<std::string>> values(paths.size());
  std::vector<std::size_t> pending(paths.size());  // indexes into `paths` still to read, in order
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  std::string last_cause = "no attempt made";
  int attempt = 0;
  int unauthorized = 0;
  for (;;) {
    if (pending.empty()) return values;
    const std::string first(paths[pending.front()]);  // names the read in messages
    if (clock_.stopped()) return fail(Errc::stopped, "stopped while reading " + first + " from IMDS");
    if (clock_.now() >= deadline) {
      return fail(Errc::imds_unavailable, "failed to read " + first + " from IMDS at " + options_.endpoint +
                                              " within " + format_seconds(options_.deadline) + ": " + last_cause +
                                              " (" + std::to_string(attempt) + " attempts)");
    }
    auto retry_later = [&](std::string cause, std::optional<std::chrono::milliseconds> wait) {
      last_cause = std::move(cause);
      auto delay = wait.value_or(backoff(attempt));
      ++attempt;
      const auto remaining = deadline - clock_.now();
      logger->debug("{}; retrying in {} ms", last_cause, delay.count());
      clock_.sleep_for(std::min<Clock::duration>(delay, std::max<Clock::duration>(remaining, Clock::duration{0})));
    };

    std::optional<std::string> token;
    if (protocol_ != Protocol::v1) {
      auto step = fetch_token(deadline);
      if (step.kind == Step::Kind::fatal) return *step.failure;
      if (step.kind == Step::Kind::retry) {
        retry_later(std::move(step.cause), step.wait);
        continue;
      }
      token = std::move(step.value);
    }

    std::vector<http::Request> requests;
    for (const auto i : pending) {
      requests.push_back(make_request("GET", paths[i], deadline));
      if (token) requests.back().headers.emplace_back(kTokenHeader, *token);
    }
    auto outcomes = transport_.perform_all(requests);

    std::vector<std::size_t> again;                 // keys to ask for once more
    std::string cause;                              // why (the last one seen)
    std::optional<std::chrono::milliseconds> wait;  // the longest Retry-After among them
    bool rejected_token = false;
    for (std::size_t k = 0; k < pending.size(); ++k) {
      const auto i = pending[k];
      const std::string path(paths[i]);
      auto& res = outcomes[k];
      if (!res) {
        if (res.error().is(Errc::http_too_large)) {
          return fail(Errc::imds_bad_response, "failed to read " + path + ": " + res.error().message);
        }
        again.push_back(i);
        cause = res.error().message;
        continue;
      }
      logger->debug("GET {} -> {} ({} ms)", path, res->status, res->elapsed.count());
      switch (res->status) {
        case 200: {
          std::string body = std::move(res->body);
          while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
          values[i] = std::move(body);
          break;
        }
        case 404: break;  // absent: stays an empty optional
        case 401:
          if (!token && !options_.v1_fallback) {
            return fail(Errc::imds_token_required,
                        "failed to read " + path + ": IMDS requires a token and none can be had");
          }
          rejected_token = true;
          again.push_back(i);
          cause = "401 Unauthorized";
          break;
        case 403:
          return fail(Errc::imds_disabled, "failed to read " + path +
                                               ": 403 Forbidden: the instance metadata endpoint is disabled; " +
                                               std::string(kDisabledFix));
        default:
          if (!retryable_status(res->status)) {
            return fail(Errc::imds_bad_response,
                        "failed to read " + path + ": unexpected " + status_text(res->status));
          }
          again.push_back(i);
          cause = status_text(res->status);
          if (auto w = retry_after(*res)) wait = std::max(wait.value_or(*w), *w);
      }
    }
    pending = std::move(again);
    if (pending.empty()) return values;
    if (rejected_token) {
      tokens_.invalidate();
      if (!token) protocol_ = Protocol::unknown;  // IMDSv2 became required: try tokens again
      // A 401 with a token we hold: refresh it at once; repeated ones are the early-boot
      // race (NixOS/amis#137) and back off like any transient error.
      if (unauthorized++ == 0) {
        last_cause = std::move(cause);
        continue;
      }
    }
    retry_later(std::move(cause), wait);
  }
}

}  // namespace kn::imds

// The real IMDS client (libcurl transport) against the IMDS simulator on loopback, one test
// per mode and fault the IMDS simulator offers (tests/support/imds_sim.py).
#include "core/logging.hpp"
#include "http/curl_transport.hpp"
#include "imds/imds_client.hpp"
#include "imds/placement_reader.hpp"
#include "support/catch_result.hpp"
#include "support/imds_sim.hpp"

#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>
#include <thread>
#include <sstream>

using namespace std::chrono_literals;
using kn::Errc;
using kn::test::ImdsSim;

namespace {

kn::imds::Options options_for(const ImdsSim& sim) {
  kn::imds::Options o;
  o.endpoint = sim.endpoint();
  o.deadline = 10s;
  o.request_timeout = 1s;
  return o;
}

struct ClientFixture {
  explicit ClientFixture(kn::imds::Options o) : client(transport, clock, std::move(o)) {}
  explicit ClientFixture(const ImdsSim& sim) : ClientFixture(options_for(sim)) {}
  kn::http::CurlTransport transport;
  kn::SteadyClock clock;
  kn::imds::Client client;

  kn::Result<kn::Placement> placement(kn::imds::PlacementQuery q = {}) {
    return kn::imds::read_placement(client, q, client.deadline_from_now());
  }
};

// Records IMDS requests the way the simulator logged them: "METHOD path status token?".
std::vector<std::string> request_lines(const ImdsSim& sim) {
  std::vector<std::string> lines;
  for (const auto& r : sim.requests()) {
    lines.push_back(r["method"].get<std::string>() + " " + r["path"].get<std::string>() + " " +
                    std::to_string(r["status"].get<int>()) + (r["token"].get<bool>() ? " token" : ""));
  }
  return lines;
}

// Captures every log line of every subsystem at trace level while alive.
struct LogCapture {
  LogCapture() {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    kn::log::set_sink(sink, spdlog::level::trace);
  }
  ~LogCapture() { kn::log::set_sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(std::clog), spdlog::level::warn); }
  std::string text() const { return out.str(); }
  std::ostringstream out;
  spdlog::sink_ptr sink;
};

}  // namespace

TEST_CASE("imds: token-required mode yields the full placement in 4 requests, all with a token", "[imds]") {
  ImdsSim sim({"--mode", "required"});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE(p);
  CHECK(p->region == "us-east-1");
  CHECK(p->availability_zone == "us-east-1a");
  CHECK(p->availability_zone_id == "use1-az4");
  CHECK(p->instance_id == "i-1234567890abcdef0");
  CHECK(p->instance_type == "m4.xlarge");
  CHECK(p->lifecycle == "on-demand");
  auto lines = request_lines(sim);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "PUT /latest/api/token 200");
  std::sort(lines.begin() + 1, lines.end());  // the GETs go out together: any arrival order
  CHECK(lines == std::vector<std::string>{
                     "PUT /latest/api/token 200",
                     "GET /latest/dynamic/instance-identity/document 200 token",
                     "GET /latest/meta-data/instance-life-cycle 200 token",
                     "GET /latest/meta-data/placement/availability-zone-id 200 token",
                 });
}

TEST_CASE("imds: the placement GETs go out together after the token, whatever the server's write style", "[imds]") {
  // Two writes per answer (head, then body) is the simulator's default; one write is the easy case.
  const bool single_write = GENERATE(false, true);
  ImdsSim sim({"--mode", "required"});
  // Each GET is held until three are in flight at once: a client sending them one after
  // another never gets there (the log then shows in_flight 1 throughout).
  sim.configure({{"single_write", single_write}, {"gather", 3}});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE(p);
  CHECK(p->availability_zone == "us-east-1a");
  CHECK(p->availability_zone_id == "use1-az4");
  CHECK(p->lifecycle == "on-demand");
  CHECK(p->instance_type == "m4.xlarge");
  const auto log = sim.requests();
  INFO(log.dump());
  REQUIRE(log.size() == 4);  // the token PUT, then the identity document, zone id and life cycle
  CHECK(log[0]["method"] == "PUT");
  std::set<int> get_connections;
  int most_in_flight = 0;
  for (std::size_t i = 1; i < log.size(); ++i) {
    CHECK(log[i]["method"] == "GET");
    CHECK(log[i]["status"] == 200);
    get_connections.insert(log[i]["conn"].get<int>());
    most_in_flight = std::max(most_in_flight, log[i]["in_flight"].get<int>());
  }
  CHECK(most_in_flight == 3);           // all three GETs were at the server at once
  CHECK(get_connections.size() == 3);   // each on a connection of its own
}

TEST_CASE("imds: get_many answers in the order asked, 404 as absence, and asks again only for what failed", "[imds]") {
  ImdsSim sim({"--mode", "required", "--scenario", "private-subnet"});
  ClientFixture f(sim);
  auto deadline = f.client.deadline_from_now();
  REQUIRE(f.client.get("meta-data/instance-id", deadline));  // the token is cached from here on
  sim.clear_requests();
  sim.configure({{"fail_503", 1}, {"retry_after", 0}});  // the first GET to arrive gets a 503
  const std::vector<std::string_view> paths{"meta-data/instance-type", "meta-data/public-ipv4",
                                            "meta-data/instance-id"};
  auto values = f.client.get_many(paths, deadline);
  REQUIRE(values);
  CHECK(*values == std::vector<std::optional<std::string>>{"m4.xlarge", std::nullopt, "i-1234567890abcdef0"});
  const auto lines = request_lines(sim);
  INFO(Catch::Detail::stringify(lines));
  REQUIRE(lines.size() == 4);  // three GETs, one of them again after its 503; no new token
  CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.find(" 503 ") != std::string::npos; }) ==
        1);
  const auto retried = lines[3].substr(0, lines[3].find(' ', 4));
  CHECK(std::count_if(lines.begin(), lines.end(), [&](const auto& l) { return l.starts_with(retried + " "); }) == 2);
}

TEST_CASE("http: perform_all returns the outcomes in request order, a failed connection with its own request",
          "[imds][http]") {
  ImdsSim sim;
  kn::http::CurlTransport transport;
  std::vector<kn::http::Request> requests(3);
  requests[0].url = sim.endpoint() + "/latest/meta-data/instance-id";
  requests[1].url = "http://127.0.0.1:9/";  // discard port: nothing listens
  requests[2].url = sim.endpoint() + "/latest/meta-data/no-such-key";
  const auto outcomes = transport.perform_all(requests);
  REQUIRE(outcomes.size() == 3);
  REQUIRE(outcomes[0]);
  CHECK(outcomes[0]->status == 200);
  CHECK(outcomes[0]->body == "i-1234567890abcdef0");
  REQUIRE_FALSE(outcomes[1]);
  CHECK(outcomes[1].error().is(Errc::http_connect));
  REQUIRE(outcomes[2]);
  CHECK(outcomes[2]->status == 404);
  CHECK(outcomes[2]->header("content-type") == "text/html");
}

TEST_CASE("imds: optional mode still uses IMDSv2 tokens", "[imds]") {
  ImdsSim sim({"--mode", "optional"});
  ClientFixture f(sim);
  REQUIRE(f.placement());
  auto lines = request_lines(sim);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "PUT /latest/api/token 200");
  for (std::size_t i = 1; i < lines.size(); ++i) CHECK_THAT(lines[i], Catch::EndsWith(" token"));
}

TEST_CASE("imds: disabled endpoint (403) fails at once with the cause and the fix", "[imds]") {
  ImdsSim sim({"--mode", "disabled"});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_disabled));
  CHECK(p.error().exit_code() == 69);
  CHECK_THAT(p.error().message, Catch::Contains("403") && Catch::Contains("disabled") &&
                                    Catch::Contains("--http-endpoint enabled"));
  CHECK(sim.requests().size() == 1);  // no retries against a deliberate "no"
}

TEST_CASE("imds: hop-limit symptom is recognised and the fix is named", "[imds]") {
  ImdsSim sim({"--mode", "required", "--hop-limit"});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_hop_limit));
  CHECK_THAT(p.error().message, Catch::Contains("hop limit") && Catch::Contains("--http-put-response-hop-limit 2"));
  auto lines = request_lines(sim);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "PUT /latest/api/token 0");  // never answered
  CHECK(lines[1] == "GET /latest/meta-data/ 401");
}

TEST_CASE("imds: hop limit with IMDSv1 allowed falls back to v1 with a warning", "[imds]") {
  ImdsSim sim({"--mode", "optional", "--hop-limit"});
  LogCapture logs;
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE(p);
  CHECK(p->availability_zone == "us-east-1a");
  CHECK_THAT(logs.text(), Catch::Contains("falling back to IMDSv1") && Catch::Contains("hop limit"));
  // The token PUT is tried once, not once per key.
  auto lines = request_lines(sim);
  CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("PUT"); }) == 1);
}

TEST_CASE("imds: hop limit with IMDSv1 disabled is an error naming the fix", "[imds]") {
  ImdsSim sim({"--mode", "optional", "--hop-limit"});
  auto o = options_for(sim);
  o.v1_fallback = false;
  ClientFixture f(o);
  auto p = f.placement();
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_hop_limit));
  CHECK_THAT(p.error().message, Catch::Contains("IMDSv1 is disabled"));
}

TEST_CASE("imds: connection refused at boot is retried until IMDS answers", "[imds]") {
  ImdsSim sim({"--refuse-seconds", "2"}, false);
  ClientFixture f(sim);
  const auto start = std::chrono::steady_clock::now();
  auto p = f.placement();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(p);
  CHECK(p->instance_id == "i-1234567890abcdef0");
  CHECK(elapsed >= 1500ms);  // it really waited for the listener
}

TEST_CASE("imds: transient 401s at boot are retried with fresh tokens", "[imds]") {
  ImdsSim sim({"--mode", "required", "--transient-401", "3"});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE(p);
  auto lines = request_lines(sim);
  CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.ends_with("401 token"); }) == 3);
}

TEST_CASE("imds: 429 and 503 are retried after the Retry-After the server asked for", "[imds]") {
  auto flag = GENERATE(as<std::string>{}, "--fail-429", "--fail-503");
  ImdsSim sim({flag, "1", "--retry-after", "1"});
  ClientFixture f(sim);
  REQUIRE(f.placement());
  auto log = sim.requests();
  REQUIRE(log.size() >= 5);
  const int status = log[0]["status"].get<int>();
  CHECK((status == 429 || status == 503));
  // The retry came no earlier than the server's Retry-After.
  CHECK(log[1]["t"].get<double>() - log[0]["t"].get<double>() >= 0.95);
}

TEST_CASE("imds: a token expired on the server is refreshed once after the 401", "[imds]") {
  ImdsSim sim({"--mode", "required"});
  ClientFixture f(sim);
  auto deadline = f.client.deadline_from_now();
  REQUIRE(f.client.get("meta-data/instance-id", deadline));
  sim.control("POST", "expire-tokens", nlohmann::json::object());
  sim.clear_requests();
  auto v = f.client.get("meta-data/instance-id", deadline);
  REQUIRE(v);
  CHECK(**v == "i-1234567890abcdef0");
  CHECK(request_lines(sim) == std::vector<std::string>{"GET /latest/meta-data/instance-id 401 token",
                                                       "PUT /latest/api/token 200",
                                                       "GET /latest/meta-data/instance-id 200 token"});
}

TEST_CASE("imds: the token is reused for its TTL, then renewed", "[imds]") {
  ImdsSim sim({"--mode", "required"});
  auto o = options_for(sim);
  o.token_ttl = 1s;  // refresh margin is then 0: renewed exactly when it expires
  kn::http::CurlTransport transport;
  kn::ManualClock clock;  // the client's notion of time: no waiting for the TTL
  kn::imds::Client client(transport, clock, o);
  auto deadline = client.deadline_from_now();
  REQUIRE(client.get("meta-data/instance-id", deadline));
  REQUIRE(client.get("meta-data/instance-type", deadline));
  clock.advance(1100ms);
  REQUIRE(client.get("meta-data/instance-id", deadline));
  auto lines = request_lines(sim);
  CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("PUT"); }) == 2);
  CHECK(std::none_of(lines.begin(), lines.end(), [](const auto& l) { return l.find(" 401") != std::string::npos; }));
}

TEST_CASE("imds: 404 is absence, with an HTML body never taken as data, and never cached", "[imds]") {
  ImdsSim sim({"--scenario", "private-subnet"});
  ClientFixture f(sim);
  auto deadline = f.client.deadline_from_now();
  auto v = f.client.get("meta-data/public-ipv4", deadline);
  REQUIRE(v);
  CHECK_FALSE(v->has_value());
  sim.configure({{"scenario", "default"}});
  v = f.client.get("meta-data/public-ipv4", deadline);
  REQUIRE(v);
  REQUIRE(v->has_value());
  CHECK(**v == "192.0.2.54");
}

TEST_CASE("imds: Local Zone and Wavelength placement keep the real region", "[imds]") {
  auto [scenario, region, zone] = GENERATE(table<std::string, std::string, std::string>({
      {"local-zone", "us-west-2", "us-west-2-lax-1a"},
      {"wavelength", "us-east-1", "us-east-1-wl1-bos-wlz-1"},
  }));
  ImdsSim sim({"--scenario", scenario});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE(p);
  CHECK(p->region == region);
  CHECK(p->availability_zone == zone);
}

TEST_CASE("imds: spot instances report lifecycle spot", "[imds]") {
  ImdsSim sim({"--scenario", "spot"});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE(p);
  CHECK(p->lifecycle == "spot");
}

TEST_CASE("imds: identity document and placement disagree: placement wins with a warning", "[imds]") {
  ImdsSim sim({"--raw-fixture"});
  LogCapture logs;
  ClientFixture f(sim);
  auto p = f.placement({.verify_zone = true});
  REQUIRE(p);
  CHECK(p->availability_zone == "us-east-1a");
  CHECK_THAT(logs.text(), Catch::Contains("us-east-1f") && Catch::Contains("us-east-1a") &&
                              Catch::Contains("placement is authoritative"));
  CHECK(sim.requests().size() == 5);  // the cross-check costs one request
}

TEST_CASE("imds: without the cross-check the identity document is trusted (4 requests)", "[imds]") {
  ImdsSim sim({"--raw-fixture"});
  ClientFixture f(sim);
  auto p = f.placement();
  REQUIRE(p);
  CHECK(p->availability_zone == "us-east-1f");
  CHECK(sim.requests().size() == 4);
}

TEST_CASE("imds: a slow IMDS past the deadline fails naming the cause and attempts", "[imds]") {
  ImdsSim sim({"--latency-ms", "800"});
  auto o = options_for(sim);
  o.request_timeout = 300ms;
  o.deadline = 1500ms;
  ClientFixture f(o);
  auto p = f.placement();
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_unavailable));
  CHECK_THAT(p.error().message, Catch::Contains("within 1.5 s") && Catch::Contains("attempts") &&
                                    Catch::Contains("token request"));
}

TEST_CASE("imds: latency below the request timeout is tolerated", "[imds]") {
  ImdsSim sim({"--latency-ms", "150"});
  ClientFixture f(sim);
  REQUIRE(f.placement());
}

TEST_CASE("imds: responses above the size cap are refused, not retried", "[imds]") {
  ImdsSim sim;
  auto o = options_for(sim);
  o.max_response_bytes = 64;
  ClientFixture f(o);
  auto p = f.placement();
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_bad_response));
  CHECK_THAT(p.error().message, Catch::Contains("larger than 64 bytes"));
  // The token, then the three placement GETs at once (the identity document is the one too
  // large); none is asked again.
  CHECK(sim.requests().size() == 4);
}

TEST_CASE("imds: http_proxy in the environment is never used for IMDS", "[imds]") {
  ImdsSim sim;
  ::setenv("http_proxy", "http://127.0.0.1:9", 1);  // discard port: a proxy there would fail
  ::setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
  ClientFixture f(sim);
  auto p = f.placement();
  ::unsetenv("http_proxy");
  ::unsetenv("HTTP_PROXY");
  REQUIRE(p);
}

TEST_CASE("imds: no token appears in any log line at any level", "[imds][secrets]") {
  // A transport wrapper records the tokens IMDS hands out; the client under test is the real one.
  struct RecordingTransport final : kn::http::Transport {
    kn::http::CurlTransport real;
    std::vector<std::string> tokens;
    kn::Result<kn::http::Response> perform(const kn::http::Request& r) override {
      auto res = real.perform(r);
      if (res && r.method == "PUT" && res->status == 200) tokens.push_back(res->body);
      return res;
    }
  };
  ImdsSim sim({"--mode", "required", "--transient-401", "2"});
  LogCapture logs;
  RecordingTransport transport;
  kn::SteadyClock clock;
  kn::imds::Client client(transport, clock, options_for(sim));
  REQUIRE(kn::imds::read_placement(client, {.verify_zone = true, .addresses = true}, client.deadline_from_now()));
  sim.control("POST", "expire-tokens", nlohmann::json::object());
  REQUIRE(client.get("meta-data/instance-id", client.deadline_from_now()));
  REQUIRE(transport.tokens.size() >= 2);
  const auto text = logs.text();
  CHECK_THAT(text, Catch::Contains("PUT api/token -> 200"));  // trace/debug lines were on
  for (const auto& token : transport.tokens) {
    REQUIRE(token.size() > 16);
    CHECK(text.find(token) == std::string::npos);
  }
}

TEST_CASE("imds: endpoint resolution follows the AWS SDK conventions", "[imds]") {
  CHECK(*kn::imds::resolve_endpoint(std::nullopt, kn::imds::EndpointMode::ipv4) == "http://169.254.169.254");
  CHECK(*kn::imds::resolve_endpoint(std::nullopt, kn::imds::EndpointMode::ipv6) == "http://[fd00:ec2::254]");
  CHECK(*kn::imds::resolve_endpoint(std::string("http://127.0.0.1:1338/"), kn::imds::EndpointMode::ipv6) == "http://127.0.0.1:1338");
  auto bad = kn::imds::resolve_endpoint(std::string("ftp://x"), kn::imds::EndpointMode::ipv4);
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("AWS_EC2_METADATA_SERVICE_ENDPOINT"));
}

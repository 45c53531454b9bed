// The lifecycle layer alone: what counts as a termination notice, the watcher on the IMDS
// simulator (one report per notice), and each answer of the master's node REST calls.
#include "http/curl_transport.hpp"
#include "lifecycle/lifecycle_watcher.hpp"
#include "lifecycle/node_api.hpp"
#include "support/catch_result.hpp"
#include "support/imds_sim.hpp"
#include "support/master_sim.hpp"

#include <catch2/catch.hpp>

using namespace kn;
using namespace std::chrono_literals;

TEST_CASE("lifecycle: spot, Auto Scaling and rebalance answers as notices") {
  auto spot = lifecycle::parse_spot_action(R"({"action": "terminate", "time": "2026-11-30T17:02:00Z"})");
  REQUIRE(spot.has_value());
  CHECK(spot->terminates);
  CHECK(spot->drains);
  CHECK(spot->describe() == "spot instance-action terminate at 2026-11-30T17:02:00Z");

  auto stop = lifecycle::parse_spot_action(R"({"action": "hibernate", "time": "2026-11-30T17:02:00Z"})");
  REQUIRE(stop.has_value());
  CHECK_FALSE(stop->terminates);  // the instance comes back: drained, not removed
  CHECK(stop->drains);

  CHECK(lifecycle::parse_spot_action("<html>404</html>").error().is(Errc::imds_bad_response));
  CHECK(lifecycle::parse_spot_action(R"({"action": "reboot", "time": "x"})").error().is(Errc::imds_bad_response));

  CHECK_FALSE(lifecycle::autoscaling_notice("InService", "t").has_value());
  CHECK_FALSE(lifecycle::autoscaling_notice("Warmed:Stopped", "t").has_value());
  auto asg = lifecycle::autoscaling_notice("Terminated", "2026-11-30T17:00:00Z");
  REQUIRE(asg.has_value());
  CHECK(asg->terminates);

  auto rebalance = lifecycle::parse_rebalance(R"({"noticeTime": "2026-11-30T17:00:00Z"})");
  REQUIRE(rebalance.has_value());
  CHECK_FALSE(rebalance->drains);
}

TEST_CASE("lifecycle: the watcher reports a notice once, and nothing while IMDS says 404") {
  test::ImdsSim imds;
  http::CurlTransport transport;
  ManualClock clock;
  imds::Options options;
  options.endpoint = imds.endpoint();
  imds::Client client(transport, clock, options);
  std::vector<lifecycle::Notice> seen;
  lifecycle::LifecycleWatcher watcher(client, clock, {.spot_interval = 5s, .asg_interval = 30s},
                                      [&](const lifecycle::Notice& n) { seen.push_back(n); });
  watcher.poll_due();
  CHECK(seen.empty());

  imds.control("POST", "spot", {{"action", "terminate"}});
  clock.advance(5s);
  watcher.poll_due();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].source == lifecycle::NoticeSource::spot);
  clock.advance(5s);
  watcher.poll_due();
  CHECK(seen.size() == 1);  // the same notice, still shown: not reported again

  imds.control("POST", "asg", {{"state", "Terminated"}});
  clock.advance(30s);
  watcher.poll_due();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].source == lifecycle::NoticeSource::autoscaling);
}

TEST_CASE("lifecycle: the master's answers to drain and remove") {
  test::MasterSim master({.api_token = "user-token-0123456789"});
  master.create_node("n1");
  http::CurlTransport transport;
  auto base = lifecycle::api_base_url(master.ws_url());
  REQUIRE(base.has_value());
  CHECK(*base == "http://127.0.0.1:" + std::to_string(master.port()));
  const lifecycle::NodeRef ref{master.grid(), "n1"};

  lifecycle::NodeApi wrong(transport, *base, "not-the-token-42", "KONTENA_API_TOKEN");
  auto refused = wrong.drain(ref);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().is(Errc::master_api_rejected));
  CHECK_THAT(refused.error().message, Catch::Contains("401 Unauthorized") && Catch::Contains("KONTENA_API_TOKEN"));
  CHECK_THAT(refused.error().message, !Catch::Contains("not-the-token-42"));

  lifecycle::NodeApi api(transport, *base, "user-token-0123456789", "KONTENA_API_TOKEN");
  for (int status : {403, 404, 422}) {
    master.node_api_fault(status, 1);
    auto st = api.drain(ref);
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().is(Errc::master_api_rejected));
    CHECK_THAT(st.error().message, Catch::Contains(std::to_string(status)));
  }
  master.node_api_fault(503, 1);
  CHECK(api.drain(ref).error().is(Errc::master_unavailable));

  REQUIRE(api.drain(ref).has_value());
  CHECK(master.node("n1")["availability"] == "drain");
  REQUIRE(api.remove(ref).has_value());
  CHECK(master.node("n1").is_null());
  CHECK(api.remove(ref).has_value());  // already gone: 404 is done

  const auto calls = master.node_api_calls();
  REQUIRE(calls.size() == 8);
  CHECK(calls[0]["auth"] == "wrong");
  CHECK(calls[1]["status"] == 403);
  CHECK(calls[7]["status"] == 404);
  CHECK(calls.dump().find("user-token-0123456789") == std::string::npos);
}

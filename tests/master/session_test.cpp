// The master link's state machine without sockets: events in, actions out, one table per
// protocol rule (docs/protocol.md).
#include "master/backoff.hpp"
#include "master/session.hpp"
#include "support/catch_result.hpp"

#include <algorithm>

using namespace kn;
using namespace kn::master;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  ManualClock clock;
  double unit = 0.5;  // the "random" number handed to the session
  Session session{SessionConfig{.node_id = "AAAA:BBBB", .url = "ws://127.0.0.1:1/"}, clock, [this] { return unit; }};

  std::vector<Action> feed(const Event& e) { return session.handle(e); }

  // Drives the session to connected, with master_info and node_info received.
  void connect(bool with_node_info = true) {
    feed(event::Start{});
    feed(event::Connected{});
    feed(frame(rpc::Notification{"/agent/master_info", rpc::Value::array({{{"version", "1.5.4"}}})}));
    if (with_node_info) {
      feed(frame(rpc::Notification{"/agent/node_info", rpc::Value::array({{{"id", "AAAA:BBBB"}, {"name", "n1"}}})}));
    }
  }

  static event::Frame frame(const rpc::Message& m) { return event::Frame{rpc::encode(m)}; }
};

template <class T>
std::vector<T> all(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (const auto* p = std::get_if<T>(&a)) out.push_back(*p);
  }
  return out;
}

template <class T>
bool has(const std::vector<Action>& actions) {
  return !all<T>(actions).empty();
}

std::optional<milliseconds> started(const std::vector<Action>& actions, TimerId id) {
  for (const auto& t : all<action::StartTimer>(actions)) {
    if (t.timer == id) return t.after;
  }
  return std::nullopt;
}

rpc::Message sent(const std::vector<Action>& actions, std::size_t index = 0) {
  const auto sends = all<action::Send>(actions);
  REQUIRE(sends.size() > index);
  auto decoded = rpc::decode(sends[index].frame);
  REQUIRE(decoded.has_value());
  return *decoded;
}

}  // namespace

TEST_CASE("backoff: rand x min(cap - 2^attempt) seconds - capped at 90 s") {
  const auto [attempt, unit, expected] = GENERATE(table<unsigned, double, long long>({
      {0, 0.5, 500},  {1, 0.5, 1000},  {2, 0.5, 2000},   {6, 0.5, 32000},   {7, 0.5, 45000},
      {7, 0.75, 67500}, {16, 0.75, 67500}, {17, 0.5, 45000}, {40, 0.25, 22500}, {3, 0.0, 0},
  }));
  CAPTURE(attempt, unit);
  CHECK(backoff_delay(attempt, unit).count() == expected);
  CHECK(backoff_delay(attempt, 0.999999) <= 90s);
  CHECK(backoff_delay(attempt, 0.999999, 2s) <= 2s);
}

TEST_CASE("session: start dials at once and reports connecting") {
  Fixture f;
  auto a = f.feed(event::Start{});
  CHECK(f.session.state() == LinkState::connecting);
  CHECK(has<action::Connect>(a));
  REQUIRE(has<action::SetStatus>(a));
  CHECK(all<action::SetStatus>(a)[0].text.find("connecting to ws://127.0.0.1:1/") != std::string::npos);
}

TEST_CASE("session: a handshake starts the ping timer - master_info triggers /nodes/update") {
  Fixture f;
  f.feed(event::Start{});
  auto a = f.feed(event::Connected{});
  CHECK(f.session.state() == LinkState::connected);
  CHECK(started(a, TimerId::ping) == 30s);

  a = f.feed(Fixture::frame(rpc::Notification{"/agent/master_info", rpc::Value::array({{{"version", "1.5.4"}}})}));
  CHECK(has<action::CollectNodeInfo>(a));
  CHECK(started(a, TimerId::update) == 60s);
  CHECK(f.session.master_version() == "1.5.4");

  a = f.feed(event::NodeInfoCollected{{{"Name", "n1"}, {"Labels", {"az=a"}}}});
  const auto m = sent(a);
  const auto* req = std::get_if<rpc::Request>(&m);
  REQUIRE(req != nullptr);
  CHECK(req->method == "/nodes/update");
  CHECK(req->params == rpc::Value::array({"AAAA:BBBB", {{"Name", "n1"}, {"Labels", {"az=a"}}}}));
  CHECK(req->id >= 1);
  CHECK(f.session.pending_requests() == 1);
  CHECK(started(a, TimerId::request_timeout) == 30s);

  // The master's reply `true` settles the request.
  f.feed(Fixture::frame(rpc::Response{req->id, nullptr, true}));
  CHECK(f.session.pending_requests() == 0);

  // Every 60 s another update.
  a = f.feed(event::TimerFired{TimerId::update});
  CHECK(has<action::CollectNodeInfo>(a));
  CHECK(started(a, TimerId::update) == 60s);
}

TEST_CASE("session: /nodes/stats only after node_info - then every 60 s - with the node's id") {
  Fixture f;
  f.connect(false);
  CHECK(f.feed(event::StatsCollected{{{"time", "x"}}}).empty());

  auto a = f.feed(Fixture::frame(rpc::Notification{"/agent/node_info", rpc::Value::array({{{"id", "AAAA:BBBB"}}})}));
  CHECK(has<action::CollectStats>(a));
  CHECK(started(a, TimerId::stats) == 60s);
  CHECK(f.session.node_info_received());

  a = f.feed(event::StatsCollected{{{"time", "x"}}});
  const auto m = sent(a);
  const auto* n = std::get_if<rpc::Notification>(&m);
  REQUIRE(n != nullptr);
  CHECK(n->method == "/nodes/stats");
  CHECK(n->params == rpc::Value::array({"AAAA:BBBB", {{"time", "x"}}}));

  // A second node_info (the grid changed) does not start a second stats schedule.
  a = f.feed(Fixture::frame(rpc::Notification{"/agent/node_info", rpc::Value::array({{{"id", "AAAA:BBBB"}}})}));
  CHECK_FALSE(has<action::CollectStats>(a));
  a = f.feed(event::TimerFired{TimerId::stats});
  CHECK(has<action::CollectStats>(a));
  CHECK(started(a, TimerId::stats) == 60s);
}

TEST_CASE("session: /nodes/stats resumes after a reconnect") {
  Fixture f;
  f.connect();
  f.feed(event::Closed{1006, ""});
  f.feed(event::TimerFired{TimerId::reconnect});
  f.feed(event::Connected{});
  f.feed(Fixture::frame(rpc::Notification{"/agent/master_info", rpc::Value::array({{{"version", "1.5.4"}}})}));
  // The master sends node_info again on every connection; the stats schedule starts again.
  auto a = f.feed(Fixture::frame(rpc::Notification{"/agent/node_info", rpc::Value::array({{{"id", "AAAA:BBBB"}}})}));
  CHECK(has<action::CollectStats>(a));
  CHECK(started(a, TimerId::stats) == 60s);
  a = f.feed(event::StatsCollected{{{"time", "x"}}});
  CHECK(has<action::Send>(a));
}

TEST_CASE("session: every unknown request gets 501 service not implemented at once") {
  Fixture f;
  f.connect();
  const auto method = GENERATE(as<std::string>{}, "/etcd/health", "/containers/inspect", "/nope");
  auto a = f.feed(Fixture::frame(rpc::Request{77, method, rpc::Value::array()}));
  const auto m = sent(a);
  const auto* r = std::get_if<rpc::Response>(&m);
  REQUIRE(r != nullptr);
  CHECK(r->id == 77);
  CHECK(r->error["code"] == 501);
  CHECK(r->error["error"] == "service not implemented");
}

TEST_CASE("session: malformed frames and unknown notifications are dropped without a reply") {
  Fixture f;
  f.connect();
  CHECK(f.feed(event::Frame{{0xc1}}).empty());
  CHECK(f.feed(Fixture::frame(rpc::Notification{"/service_pods/notify_update", rpc::Value::array()})).empty());
  CHECK(f.feed(Fixture::frame(rpc::Response{12345, nullptr, true})).empty());
}

TEST_CASE("session: close codes 4001 - 4010 - 4040 - 4041 stop the agent with distinct exit codes") {
  const auto [code, exit, errc, words] = GENERATE(table<int, int, Errc, std::string>({
      {4001, 77, Errc::master_rejected_token, "rejected the grid token"},
      {4010, 79, Errc::master_version, "refused protocol version"},
      {4040, 80, Errc::master_node_removed, "removed this node"},
      {4041, 81, Errc::master_conflict, "newer connection"},
  }));
  CAPTURE(code);
  Fixture f;
  f.connect();
  auto a = f.feed(event::Closed{code, "reason from master"});
  CHECK(f.session.state() == LinkState::stopped);
  const auto exits = all<action::Exit>(a);
  REQUIRE(exits.size() == 1);
  CHECK(exits[0].code == exit);
  REQUIRE(exits[0].failure.has_value());
  CHECK(exits[0].failure->is(errc));
  CHECK(exits[0].failure->message.find(words) != std::string::npos);
  CHECK(exits[0].failure->message.find(std::to_string(code)) != std::string::npos);
  CHECK_FALSE(started(a, TimerId::reconnect).has_value());
  // Nothing moves after the exit.
  CHECK(f.feed(event::TimerFired{TimerId::reconnect}).empty());
}

TEST_CASE("session: every other close reconnects after a jittered backoff") {
  const int code = GENERATE(0, 1000, 1006, 1011, 4000, 4002, 4003, 4004, 4005, 4006, 4020, 4030, 4031);
  CAPTURE(code);
  Fixture f;
  f.connect();
  auto a = f.feed(event::Closed{code, ""});
  CHECK(f.session.state() == LinkState::backoff);
  CHECK_FALSE(has<action::Exit>(a));
  // attempt 1 after a successful handshake: 0.5 x 2 s.
  CHECK(started(a, TimerId::reconnect) == 1000ms);
  for (auto t : {TimerId::ping, TimerId::update, TimerId::stats, TimerId::pong_deadline}) {
    CHECK(std::ranges::any_of(all<action::CancelTimer>(a), [t](const auto& c) { return c.timer == t; }));
  }
  a = f.feed(event::TimerFired{TimerId::reconnect});
  CHECK(has<action::Connect>(a));
  CHECK(f.session.state() == LinkState::connecting);
}

TEST_CASE("session: failed attempts back off exponentially up to the cap and reset on a handshake") {
  Fixture f;
  f.unit = 0.75;
  f.feed(event::Start{});
  std::vector<long long> delays;
  for (int i = 0; i < 10; ++i) {
    auto a = f.feed(event::ConnectFailed{fail(Errc::master_unavailable, "failed to connect: refused")});
    auto d = started(a, TimerId::reconnect);
    REQUIRE(d.has_value());
    delays.push_back(d->count());
    f.feed(event::TimerFired{TimerId::reconnect});
  }
  CHECK(delays == std::vector<long long>{1500, 3000, 6000, 12000, 24000, 48000, 67500, 67500, 67500, 67500});
  CHECK(f.session.attempt() == 10);
  f.feed(event::Connected{});
  CHECK(f.session.attempt() == 0);
  // Clock skew: the master accepts the upgrade, then closes 4020; backoff starts over.
  auto a = f.feed(event::Closed{4020, "clock offset"});
  CHECK(started(a, TimerId::reconnect) == 1500ms);
}

TEST_CASE("session: ping every interval - no pong within the deadline drops the link and reconnects") {
  Fixture f;
  f.connect();
  auto a = f.feed(event::TimerFired{TimerId::ping});
  CHECK(has<action::Ping>(a));
  CHECK(started(a, TimerId::pong_deadline) == 5s);
  CHECK(started(a, TimerId::ping) == 30s);

  SECTION("a pong cancels the deadline") {
    a = f.feed(event::Pong{});
    REQUIRE(all<action::CancelTimer>(a).size() == 1);
    CHECK(all<action::CancelTimer>(a)[0].timer == TimerId::pong_deadline);
    CHECK(f.feed(event::TimerFired{TimerId::pong_deadline}).empty());  // a late fire is harmless
    CHECK(f.session.state() == LinkState::connected);
  }
  SECTION("no second ping while one is unanswered") {
    a = f.feed(event::TimerFired{TimerId::ping});
    CHECK_FALSE(has<action::Ping>(a));
  }
  SECTION("the deadline passes") {
    a = f.feed(event::TimerFired{TimerId::pong_deadline});
    CHECK(has<action::Abort>(a));
    CHECK(f.session.state() == LinkState::backoff);
    CHECK(started(a, TimerId::reconnect).has_value());
  }
}

TEST_CASE("session: requests without a reply expire after 30 s") {
  Fixture f;
  f.connect();
  f.feed(event::NodeInfoCollected{{{"Name", "n1"}}});
  CHECK(f.session.pending_requests() == 1);
  f.clock.advance(10s);
  f.feed(event::NodeInfoCollected{{{"Name", "n1"}}});
  CHECK(f.session.pending_requests() == 2);
  f.clock.advance(20s);
  auto a = f.feed(event::TimerFired{TimerId::request_timeout});
  CHECK(f.session.pending_requests() == 1);
  // The timer is re-armed for the second request's deadline, 10 s on.
  const auto next = started(a, TimerId::request_timeout);
  REQUIRE(next.has_value());
  CHECK(*next > 9s);
  CHECK(*next < 11s);
  f.clock.advance(*next);
  f.feed(event::TimerFired{TimerId::request_timeout});
  CHECK(f.session.pending_requests() == 0);
}

TEST_CASE("session: stop closes with 1000 and exits 0 when the close completes or times out") {
  Fixture f;
  f.connect();
  auto a = f.feed(event::Stop{});
  CHECK(f.session.state() == LinkState::stopping);
  const auto closes = all<action::Close>(a);
  REQUIRE(closes.size() == 1);
  CHECK(closes[0].code == 1000);
  const auto deadline = started(a, TimerId::close_deadline);
  REQUIRE(deadline.has_value());
  CHECK(*deadline < 2s);

  SECTION("the master answers the close") {
    a = f.feed(event::Closed{1000, "agent stopping"});
    REQUIRE(all<action::Exit>(a).size() == 1);
    CHECK(all<action::Exit>(a)[0].code == 0);
    CHECK_FALSE(all<action::Exit>(a)[0].failure.has_value());
  }
  SECTION("the master does not answer") {
    a = f.feed(event::TimerFired{TimerId::close_deadline});
    CHECK(has<action::Abort>(a));
    REQUIRE(all<action::Exit>(a).size() == 1);
    CHECK(all<action::Exit>(a)[0].code == 0);
  }
  SECTION("a shutdown code during the close still exits 0") {
    a = f.feed(event::Closed{4041, ""});
    REQUIRE(all<action::Exit>(a).size() == 1);
    CHECK(all<action::Exit>(a)[0].code == 0);
  }
}

TEST_CASE("session: stop while connecting or waiting to reconnect exits at once") {
  Fixture f;
  f.feed(event::Start{});
  SECTION("connecting") {
    auto a = f.feed(event::Stop{});
    CHECK(has<action::Abort>(a));
    CHECK(all<action::Exit>(a).at(0).code == 0);
  }
  SECTION("backoff") {
    f.feed(event::ConnectFailed{fail(Errc::master_unavailable, "refused")});
    auto a = f.feed(event::Stop{});
    CHECK(all<action::Exit>(a).at(0).code == 0);
    CHECK(std::ranges::any_of(all<action::CancelTimer>(a), [](const auto& c) { return c.timer == TimerId::reconnect; }));
  }
  CHECK(f.session.state() == LinkState::stopped);
}

TEST_CASE("session: events that do not fit the state change nothing") {
  Fixture f;
  CHECK(f.feed(event::Connected{}).empty());
  CHECK(f.feed(event::Pong{}).empty());
  CHECK(f.feed(event::TimerFired{TimerId::ping}).empty());
  CHECK(f.feed(event::NodeInfoCollected{{}}).empty());
  CHECK(f.session.state() == LinkState::idle);
  f.feed(event::Start{});
  CHECK(f.feed(event::Start{}).empty());
  CHECK(f.feed(event::Frame{rpc::encode(rpc::Request{1, "/x", rpc::Value::array()})}).empty());
}

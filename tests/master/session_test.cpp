// The master link's state machine without sockets: events in, actions out, one table per
// protocol rule (docs/protocol.md).
#include "master/backoff.hpp"
#include "master/session.hpp"
#include "support/catch_result.hpp"

#include <algorithm>
#include <map>
#include <set>

using namespace kn;
using namespace kn::master;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  ManualClock clock;
  double unit = 0.5;  // the "random" number handed to the session
  Session session;

  explicit Fixture(std::set<std::string> served = {}, milliseconds master_info_timeout = 30s)
      : session(SessionConfig{.node_id = "AAAA:BBBB",
                              .url = "ws://127.0.0.1:1/",
                              .master_info_timeout = master_info_timeout,
                              .served_methods = std::move(served)},
                clock, [this] { return unit; }) {}

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
  // The first reconnect after a successful handshake: 0.5 x 1 s.
  CHECK(started(a, TimerId::reconnect) == 500ms);
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
  CHECK(delays == std::vector<long long>{750, 1500, 3000, 6000, 12000, 24000, 48000, 67500, 67500, 67500});
  CHECK(f.session.attempt() == 10);
  f.feed(event::Connected{});
  CHECK(f.session.attempt() == 0);
  // Clock skew: the master accepts the upgrade, then closes 4020; backoff starts over.
  auto a = f.feed(event::Closed{4020, "clock offset"});
  CHECK(started(a, TimerId::reconnect) == 750ms);
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

// ---- The RPC port: master requests for served methods, the agent's own calls, link events.

namespace {

const std::set<std::string> kServed{"/service_pods/notify_update", "/service_pods/restart"};

std::vector<LinkEvent> announced(const std::vector<Action>& actions) {
  std::vector<LinkEvent> out;
  for (const auto& a : all<action::Announce>(actions)) out.push_back(a.event);
  return out;
}

// The request id the session put on the wire for the call in `actions`.
std::uint32_t request_id_of(const std::vector<Action>& actions, std::size_t index = 0) {
  const auto m = sent(actions, index);
  const auto* r = std::get_if<rpc::Request>(&m);
  REQUIRE(r != nullptr);
  return r->id;
}

}  // namespace

TEST_CASE("session: a numbered node reconnects in its own second, so a master restart brings a fleet back spread out") {
  // node_number -> the second its first reconnect falls in.
  const auto [number, second] = GENERATE(table<long, long>({{1, 1}, {7, 7}, {14, 14}, {15, 0}, {16, 1}, {254, 14}}));
  CAPTURE(number);
  Fixture f;
  f.unit = 0.25;
  f.connect(false);
  f.feed(Fixture::frame(rpc::Notification{
      "/agent/node_info", rpc::Value::array({{{"id", "AAAA:BBBB"}, {"name", "n1"}, {"node_number", number}}})}));
  auto d = started(f.feed(event::Closed{1006, ""}), TimerId::reconnect);
  REQUIRE(d.has_value());
  CHECK(*d == milliseconds(second * 1000 + 250));
  // Later attempts (the master is still down) back off as Kontena's do: 0.25 x 2 s.
  f.feed(event::TimerFired{TimerId::reconnect});
  d = started(f.feed(event::ConnectFailed{fail(Errc::master_unavailable, "refused")}), TimerId::reconnect);
  REQUIRE(d.has_value());
  CHECK(*d == 500ms);
  // Every slot of the window holds the same share of a dense fleet.
  std::map<long, int> per_slot;
  for (long n = 1; n <= 150; ++n) ++per_slot[reconnect_slot_delay(n, 0.0).count() / 1000];
  CHECK(per_slot.size() == static_cast<std::size_t>(kReconnectSlots));
  CHECK(std::ranges::all_of(per_slot, [](const auto& kv) { return kv.second == 10; }));
  CHECK(reconnect_slot_delay(14, 0.9, 2s) == 2s);  // the cap still wins
}

TEST_CASE("session: the first reconnect waits less than 1 s - as Kontena's rand x 2^0") {
  const double unit = GENERATE(0.0, 0.3, 0.999999);
  CAPTURE(unit);
  SECTION("after a handshake") {
    Fixture f;
    f.unit = unit;
    f.connect();
    const auto d = started(f.feed(event::Closed{1006, ""}), TimerId::reconnect);
    REQUIRE(d.has_value());
    CHECK(*d < 1s);
    CHECK(*d == milliseconds(static_cast<long long>(unit * 1000)));
  }
  SECTION("after the first dial fails") {
    Fixture f;
    f.unit = unit;
    f.feed(event::Start{});
    const auto d = started(f.feed(event::ConnectFailed{fail(Errc::master_unavailable, "refused")}), TimerId::reconnect);
    REQUIRE(d.has_value());
    CHECK(*d < 1s);
  }
}

TEST_CASE("session: no /agent/master_info within 30 s of the upgrade drops the link and reconnects") {
  Fixture f;
  f.feed(event::Start{});
  auto a = f.feed(event::Connected{});
  CHECK(started(a, TimerId::master_info) == 30s);

  SECTION("the master stays silent") {
    a = f.feed(event::TimerFired{TimerId::master_info});
    CHECK(has<action::Abort>(a));
    CHECK(f.session.state() == LinkState::backoff);
    CHECK(started(a, TimerId::reconnect).has_value());
    REQUIRE(has<action::SetStatus>(a));
    CHECK(all<action::SetStatus>(a)[0].text.find("no /agent/master_info within 30.0 s") != std::string::npos);
    CHECK(announced(a) == std::vector<LinkEvent>{LinkEvent::lost});
    // The next connection gets its own 30 s.
    f.feed(event::TimerFired{TimerId::reconnect});
    CHECK(started(f.feed(event::Connected{}), TimerId::master_info) == 30s);
  }
  SECTION("master_info arrives: the timer is cancelled and a late fire changes nothing") {
    a = f.feed(Fixture::frame(rpc::Notification{"/agent/master_info", rpc::Value::array({{{"version", "1.5.4"}}})}));
    CHECK(std::ranges::any_of(all<action::CancelTimer>(a),
                              [](const auto& c) { return c.timer == TimerId::master_info; }));
    CHECK(f.feed(event::TimerFired{TimerId::master_info}).empty());
    CHECK(f.session.state() == LinkState::connected);
  }
}

TEST_CASE("session: the master_info timeout is configurable") {
  Fixture f({}, 5s);
  f.feed(event::Start{});
  CHECK(started(f.feed(event::Connected{}), TimerId::master_info) == 5s);
}

TEST_CASE("session: master_info - node_info and the loss of an upgraded link are announced") {
  Fixture f;
  f.feed(event::Start{});
  CHECK(announced(f.feed(event::Connected{})).empty());
  auto a = f.feed(Fixture::frame(rpc::Notification{"/agent/master_info", rpc::Value::array({{{"version", "1.5.4"}}})}));
  CHECK(announced(a) == std::vector<LinkEvent>{LinkEvent::master_info});
  a = f.feed(Fixture::frame(rpc::Notification{"/agent/node_info", rpc::Value::array({{{"id", "AAAA:BBBB"}}})}));
  CHECK(announced(a) == std::vector<LinkEvent>{LinkEvent::node_info});
  // A node_info without a node object is not news.
  CHECK(announced(f.feed(Fixture::frame(rpc::Notification{"/agent/node_info", rpc::Value::array()}))).empty());
  a = f.feed(event::Closed{1006, ""});
  CHECK(announced(a) == std::vector<LinkEvent>{LinkEvent::lost});

  SECTION("a failed dial was never up: nothing is lost") {
    f.feed(event::TimerFired{TimerId::reconnect});
    CHECK(announced(f.feed(event::ConnectFailed{fail(Errc::master_unavailable, "refused")})).empty());
  }
  SECTION("stop while connected announces lost once") {
    f.feed(event::TimerFired{TimerId::reconnect});
    f.feed(event::Connected{});
    CHECK(announced(f.feed(event::Stop{})) == std::vector<LinkEvent>{LinkEvent::lost});
    CHECK(announced(f.feed(event::Closed{1000, ""})).empty());
  }
}

TEST_CASE("session: a served master request is delivered - the app's reply goes back once with the same id") {
  Fixture f(kServed);
  f.connect();
  auto a = f.feed(Fixture::frame(rpc::Request{4242, "/service_pods/notify_update", rpc::Value::array({"x"})}));
  CHECK_FALSE(has<action::Send>(a));  // no 501
  auto delivered = all<action::Deliver>(a);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].call.request_id == std::optional<std::uint32_t>(4242));
  CHECK(delivered[0].call.method == "/service_pods/notify_update");
  CHECK(delivered[0].call.params == rpc::Value::array({"x"}));

  a = f.feed(event::Reply{4242, rpc::Value::object()});
  auto m = sent(a);
  auto* r = std::get_if<rpc::Response>(&m);
  REQUIRE(r != nullptr);
  CHECK(r->id == 4242);
  CHECK(r->error.is_null());
  CHECK(r->result == rpc::Value::object());
  // Only one answer per request: a second reply, or one to an id the master never sent, is dropped.
  CHECK(f.feed(event::Reply{4242, rpc::Value::object()}).empty());
  CHECK(f.feed(event::Reply{9, rpc::Value::object()}).empty());

  SECTION("a failure goes back as Kontena's {code: 500, message}") {
    f.feed(Fixture::frame(rpc::Request{7, "/service_pods/restart", rpc::Value::array({"web", "web-1"})}));
    a = f.feed(event::Reply{7, fail(Errc::docker_unavailable, "failed to restart web-1: Docker is down")});
    m = sent(a);
    r = std::get_if<rpc::Response>(&m);
    REQUIRE(r != nullptr);
    CHECK(r->id == 7);
    CHECK(r->error == rpc::Value{{"code", 500}, {"message", "failed to restart web-1: Docker is down"}});
    CHECK(r->result.is_null());
  }
  SECTION("a served notification is delivered without a request id") {
    a = f.feed(Fixture::frame(rpc::Notification{"/service_pods/restart", rpc::Value::array({"web", "web-1"})}));
    delivered = all<action::Deliver>(a);
    REQUIRE(delivered.size() == 1);
    CHECK_FALSE(delivered[0].call.request_id.has_value());
    CHECK(delivered[0].call.method == "/service_pods/restart");
    CHECK(delivered[0].call.params == rpc::Value::array({"web", "web-1"}));
    CHECK_FALSE(has<action::Send>(a));
  }
  SECTION("requests for other methods still get 501 at once") {
    a = f.feed(Fixture::frame(rpc::Request{8, "/etcd/health", rpc::Value::array()}));
    CHECK_FALSE(has<action::Deliver>(a));
    m = sent(a);
    r = std::get_if<rpc::Response>(&m);
    REQUIRE(r != nullptr);
    CHECK(r->id == 8);
    CHECK(r->error["code"] == 501);
  }
  SECTION("the reply to a request of a connection that ended is dropped") {
    f.feed(Fixture::frame(rpc::Request{11, "/service_pods/notify_update", rpc::Value::array()}));
    f.feed(event::Closed{1006, ""});
    f.feed(event::TimerFired{TimerId::reconnect});
    f.feed(event::Connected{});
    CHECK(f.feed(event::Reply{11, rpc::Value::object()}).empty());
  }
}

TEST_CASE("session: each reply reaches its own call exactly once") {
  Fixture f;
  f.connect();
  f.unit = 0.25;
  auto a1 = f.feed(event::Call{1, "/node_service_pods/list", rpc::Value::array({"AAAA:BBBB"})});
  f.unit = 0.75;
  auto a2 = f.feed(event::Call{2, "/containers/save", rpc::Value{{"id", "c1"}}});  // not an array: sent as [params]
  CHECK_FALSE(has<action::CallDone>(a1));
  CHECK(f.session.pending_requests() == 2);
  const auto m1 = sent(a1);
  const auto* r1 = std::get_if<rpc::Request>(&m1);
  REQUIRE(r1 != nullptr);
  CHECK(r1->method == "/node_service_pods/list");
  CHECK(r1->params == rpc::Value::array({"AAAA:BBBB"}));
  const auto m2 = sent(a2);
  const auto* r2 = std::get_if<rpc::Request>(&m2);
  REQUIRE(r2 != nullptr);
  CHECK(r2->params == rpc::Value::array({{{"id", "c1"}}}));
  REQUIRE(r1->id != r2->id);

  // Replies in the other order.
  auto a = f.feed(Fixture::frame(rpc::Response{r2->id, nullptr, true}));
  auto done = all<action::CallDone>(a);
  REQUIRE(done.size() == 1);
  CHECK(done[0].tag == 2);
  REQUIRE(done[0].result.has_value());
  CHECK(*done[0].result == true);

  a = f.feed(Fixture::frame(rpc::Response{r1->id, nullptr, {{"service_pods", rpc::Value::array()}}}));
  done = all<action::CallDone>(a);
  REQUIRE(done.size() == 1);
  CHECK(done[0].tag == 1);
  REQUIRE(done[0].result.has_value());
  CHECK((*done[0].result)["service_pods"] == rpc::Value::array());
  CHECK(f.session.pending_requests() == 0);

  // A duplicate reply, and the timer of the answered calls, finish nothing more.
  CHECK(all<action::CallDone>(f.feed(Fixture::frame(rpc::Response{r1->id, nullptr, true}))).empty());
  f.clock.advance(31s);
  CHECK(all<action::CallDone>(f.feed(event::TimerFired{TimerId::request_timeout})).empty());
}

TEST_CASE("session: an error reply fails the call with master_rpc_error and the master's message") {
  const auto [error, words] = GENERATE(table<rpc::Value, std::string>({
      {rpc::Value{{"code", 404}, {"message", "Missing HostNode"}}, "Missing HostNode (code 404)"},
      {rpc::Value{{"code", 501}, {"error", "service not implemented"}}, "service not implemented (code 501)"},
      {rpc::Value("odd"), "odd"},
  }));
  CAPTURE(error.dump());
  Fixture f;
  f.connect();
  const auto id = request_id_of(f.feed(event::Call{5, "/node_service_pods/set_state", rpc::Value::array()}));
  auto a = f.feed(Fixture::frame(rpc::Response{id, error, nullptr}));
  const auto done = all<action::CallDone>(a);
  REQUIRE(done.size() == 1);
  CHECK(done[0].tag == 5);
  REQUIRE_FALSE(done[0].result.has_value());
  CHECK(done[0].result.error().is(Errc::master_rpc_error));
  CHECK(done[0].result.error().message.find("failed to call /node_service_pods/set_state") != std::string::npos);
  CHECK(done[0].result.error().message.find(words) != std::string::npos);
}

TEST_CASE("session: a call without a reply fails with http_timeout after the request timeout") {
  Fixture f;
  f.connect();
  auto a = f.feed(event::Call{3, "/containers/cleanup", rpc::Value::array()});
  CHECK(started(a, TimerId::request_timeout) == 30s);
  f.clock.advance(29s);
  CHECK(all<action::CallDone>(f.feed(event::TimerFired{TimerId::request_timeout})).empty());
  f.clock.advance(1s);
  a = f.feed(event::TimerFired{TimerId::request_timeout});
  const auto done = all<action::CallDone>(a);
  REQUIRE(done.size() == 1);
  CHECK(done[0].tag == 3);
  REQUIRE_FALSE(done[0].result.has_value());
  CHECK(done[0].result.error().is(Errc::http_timeout));
  CHECK(done[0].result.error().message.find("no reply within 30.0 s") != std::string::npos);
  CHECK(f.session.pending_requests() == 0);
}

TEST_CASE("session: pending calls fail with master_unavailable when the link ends") {
  const int how = GENERATE(0, 1, 2, 3);
  CAPTURE(how);
  Fixture f;
  f.connect();
  f.feed(event::Call{1, "/containers/save", rpc::Value::array()});
  f.feed(event::Call{2, "/containers/event", rpc::Value::array()});
  f.feed(event::NodeInfoCollected{{{"Name", "n1"}}});  // the session's own /nodes/update: no CallDone
  std::vector<Action> a;
  switch (how) {
    case 0: a = f.feed(event::Closed{1006, ""}); break;
    case 1:
      f.feed(event::TimerFired{TimerId::ping});
      a = f.feed(event::TimerFired{TimerId::pong_deadline});
      break;
    case 2: a = f.feed(event::Stop{}); break;
    default: a = f.feed(event::Closed{4041, "newer connection"}); break;
  }
  const auto done = all<action::CallDone>(a);
  REQUIRE(done.size() == 2);
  std::set<std::uint64_t> tags;
  for (const auto& d : done) {
    tags.insert(d.tag);
    REQUIRE_FALSE(d.result.has_value());
    CHECK(d.result.error().is(Errc::master_unavailable));
  }
  CHECK(tags == std::set<std::uint64_t>{1, 2});
  CHECK(f.session.pending_requests() == 0);
  CHECK(announced(a) == std::vector<LinkEvent>{LinkEvent::lost});
}

TEST_CASE("session: calls while offline fail at once - notifications are dropped") {
  const int where = GENERATE(0, 1, 2, 3, 4);
  CAPTURE(where);
  Fixture f;
  switch (where) {
    case 0: break;                             // idle
    case 1: f.feed(event::Start{}); break;     // connecting
    case 2:                                    // backoff
      f.connect();
      f.feed(event::Closed{1006, ""});
      break;
    case 3:                                    // stopping: the close handshake runs
      f.connect();
      f.feed(event::Stop{});
      break;
    default:                                   // stopped
      f.feed(event::Start{});
      f.feed(event::Stop{});
      break;
  }
  auto a = f.feed(event::Call{9, "/node_service_pods/list", rpc::Value::array()});
  CHECK_FALSE(has<action::Send>(a));
  const auto done = all<action::CallDone>(a);
  REQUIRE(done.size() == 1);
  CHECK(done[0].tag == 9);
  REQUIRE_FALSE(done[0].result.has_value());
  CHECK(done[0].result.error().is(Errc::master_unavailable));
  CHECK(done[0].result.error().message.find("not connected") != std::string::npos);
  CHECK(f.feed(event::Notify{"/node_service_pods/event", rpc::Value::array()}).empty());
}

TEST_CASE("session: a notification goes out as one frame while connected") {
  Fixture f;
  f.feed(event::Start{});
  f.feed(event::Connected{});  // the socket is open: Kontena's rpc_client sends from here on
  auto a = f.feed(event::Notify{"/node_service_pods/event", rpc::Value::array({"pod-1", "pulling image"})});
  const auto m = sent(a);
  const auto* n = std::get_if<rpc::Notification>(&m);
  REQUIRE(n != nullptr);
  CHECK(n->method == "/node_service_pods/event");
  CHECK(n->params == rpc::Value::array({"pod-1", "pulling image"}));
  // Calls go out before master_info too.
  CHECK(has<action::Send>(f.feed(event::Call{1, "/node_service_pods/list", rpc::Value::array()})));
}

// The pod reconciler without Docker: desired pod + observed container + the node's memory in,
// Docker steps and master reports out. One case per row of the reconcile table and per edge
// case of kontena v1.5.4: agent/lib/kontena/workers/service_pod_worker.rb.
#include "runtime/container_spec.hpp"
#include "runtime/reconciler.hpp"
#include "support/catch_result.hpp"

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kRev = "2018-08-10 12:34:56 UTC";
const WallTime kStarted = WallTime(std::chrono::seconds(1533904496));

ServicePod pod(DesiredState desired = DesiredState::running) {
  ServicePod p;
  p.id = "svc1/1";
  p.desired_state = desired;
  p.service_id = "svc1";
  p.service_name = "stress.stress";
  p.service_revision = 2;
  p.instance_number = 1;
  p.deploy_rev = kRev;
  p.image_name = "progrium/stress";
  p.stop_grace_period = 15;
  return p;
}

// The container the node created for `p` (its labels come from the create body).
ObservedContainer container_of(const ServicePod& p, bool running = true) {
  ObservedContainer c;
  c.id = "c0ffee";
  c.name = container_name(p);
  c.running = running;
  c.started_at = kStarted;
  c.labels = container_labels(p);
  c.image_id = "sha256:aaa";
  return c;
}

std::vector<StepKind> kinds(const Plan& plan) {
  std::vector<StepKind> out;
  for (const auto& s : plan.steps) out.push_back(s.kind);
  return out;
}

using K = StepKind;

struct Fixture {
  ManualClock clock;
  PodReconciler r{clock};

  // The report goes out and the master acknowledges it.
  void ack(const Plan& plan) {
    REQUIRE(plan.set_state.has_value());
    r.sending(*plan.set_state);
    r.sent(*plan.set_state, true);
  }
};

}  // namespace

TEST_CASE("reconcile: running and no container - pull, create, start") {
  Fixture f;
  auto plan = f.r.plan(pod(), std::nullopt);
  CHECK(kinds(plan) == std::vector<K>{K::pull, K::create, K::start});
  REQUIRE(plan.events.size() == 1);
  CHECK(plan.events[0].type == "service:create_instance");
  CHECK_FALSE(plan.set_state.has_value());
  // Pulled for this deploy_rev already: no second pull.
  f.r.pulled(pod(), "sha256:aaa");
  CHECK(kinds(f.r.plan(pod(), std::nullopt)) == std::vector<K>{K::create, K::start});
}

TEST_CASE("reconcile: an up-to-date running container is adopted - never recreated") {
  Fixture f;
  const auto p = pod();
  auto plan = f.r.plan(p, container_of(p));
  CHECK(plan.steps.empty());
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->state == "running");
  CHECK(plan.set_state->rev == kRev);
  CHECK_FALSE(plan.set_state->error.has_value());
  CHECK(plan.set_state->to_json() ==
        json{{"service_id", "svc1"}, {"instance_number", 1}, {"rev", kRev}, {"state", "running"}, {"error", nullptr}});
}

TEST_CASE("reconcile: outdated containers are recreated - removed with their volumes") {
  using Edit = std::function<void(ServicePod&, ObservedContainer&)>;
  const auto [why, edit, expected] = GENERATE(table<std::string, Edit, std::vector<K>>({
      {"lower service_revision label",
       [](ServicePod& p, ObservedContainer&) { p.service_revision = 3; },
       {K::pull, K::stop, K::remove, K::create, K::start}},
      {"no service_revision label",
       [](ServicePod&, ObservedContainer& c) { c.labels.erase(label::service_revision); },
       {K::pull, K::stop, K::remove, K::create, K::start}},
      {"load balancer changed",
       [](ServicePod& p, ObservedContainer&) { p.labels["io.kontena.load_balancer.name"] = "lb"; },
       {K::pull, K::stop, K::remove, K::create, K::start}},
      {"stopped with State.Error",
       [](ServicePod&, ObservedContainer& c) {
         c.running = false;
         c.state_error = "OCI runtime create failed";
       },
       {K::pull, K::remove, K::create, K::start}},
  }));
  CAPTURE(why);
  Fixture f;
  auto p = pod();
  auto c = container_of(p);
  edit(p, c);
  const auto plan = f.r.plan(p, c);
  CHECK(kinds(plan) == expected);
  for (const auto& s : plan.steps) {
    if (s.kind == K::stop) {
      CHECK(s.container_id == "c0ffee");
      CHECK(s.grace == 15s);
    }
    if (s.kind == K::remove) {
      CHECK(s.container_id == "c0ffee");
      CHECK(s.remove_volumes);
    }
  }
}

TEST_CASE("reconcile: a newer service_revision label is not outdated") {
  Fixture f;
  auto p = pod();
  auto c = container_of(p);
  c.labels[label::service_revision] = "9";
  CHECK(f.r.plan(p, c).steps.empty());
}

TEST_CASE("reconcile: a new deploy_rev re-pulls - recreates only when the image changed") {
  Fixture f;
  const auto old_pod = pod();
  const auto c = container_of(old_pod);
  auto p = pod();
  p.deploy_rev = "2018-08-11 00:00:00 UTC";

  auto plan = f.r.plan(p, c);
  CHECK(kinds(plan) == std::vector<K>{K::pull});
  CHECK_FALSE(plan.set_state.has_value());

  SECTION("same image id: adopted, reported with the new rev") {
    f.r.pulled(p, "sha256:aaa");
    plan = f.r.plan(p, c);
    CHECK(plan.steps.empty());
    REQUIRE(plan.set_state.has_value());
    CHECK(plan.set_state->rev == "2018-08-11 00:00:00 UTC");
  }
  SECTION("another image id: recreated, without a second pull") {
    f.r.pulled(p, "sha256:bbb");
    CHECK(kinds(f.r.plan(p, c)) == std::vector<K>{K::stop, K::remove, K::create, K::start});
  }
  SECTION("a pull for another image name does not count") {
    auto other = p;
    other.image_name = "busybox";
    f.r.pulled(other, "sha256:aaa");
    CHECK(kinds(f.r.plan(p, c)) == std::vector<K>{K::pull});
  }
}

TEST_CASE("reconcile: running and a stopped container - start it") {
  Fixture f;
  const auto p = pod();
  auto plan = f.r.plan(p, container_of(p, false));
  CHECK(plan.steps == std::vector<Step>{{K::start, "c0ffee", 15s}});
  CHECK(plan.events.at(0).type == "service:start_instance");
}

TEST_CASE("reconcile: stopped stops the container with its grace and keeps it") {
  Fixture f;
  const auto p = pod(DesiredState::stopped);
  auto plan = f.r.plan(p, container_of(p, true));
  CHECK(plan.steps == std::vector<Step>{{K::stop, "c0ffee", 15s}});
  plan = f.r.plan(p, container_of(p, false));
  CHECK(plan.steps.empty());
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->state == "stopped");
  // Nothing is created for a stopped pod.
  plan = f.r.plan(p, std::nullopt);
  CHECK(plan.steps.empty());
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->state == "missing");
}

TEST_CASE("reconcile: terminated stops then removes with v=1 - and reports nothing") {
  Fixture f;
  auto c = container_of(pod());
  auto plan = f.r.plan(std::nullopt, c);
  CHECK(plan.steps == std::vector<Step>{{K::stop, "c0ffee", 15s}, {K::remove, "c0ffee", 15s, true}});
  CHECK_FALSE(plan.set_state.has_value());
  CHECK_FALSE(plan.gone);
  REQUIRE(plan.events.size() == 1);
  CHECK(plan.events[0].service_id == "svc1");
  CHECK(plan.events[0].instance_number == 1);

  c.running = false;
  CHECK(kinds(f.r.plan(std::nullopt, c)) == std::vector<K>{K::remove});
  plan = f.r.plan(std::nullopt, std::nullopt);
  CHECK(plan.steps.empty());
  CHECK(plan.gone);
}

TEST_CASE("reconcile: initialized does nothing and reports the actual state") {
  Fixture f;
  const auto p = pod(DesiredState::initialized);
  auto plan = f.r.plan(p, container_of(p, false));
  CHECK(plan.steps.empty());
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->state == "stopped");
}

TEST_CASE("reconcile: crash restart on any die - exit 0 included - with restarts squared backoff capped at 30 s") {
  Fixture f;
  const auto p = pod();
  auto c = container_of(p, false);
  const auto exit_code = GENERATE(as<long>{}, 0, 137);
  CAPTURE(exit_code);

  // Died right after starting, again and again: 1, 4, 9, 16, 25, 30, 30 s.
  for (const long expected : {1L, 4L, 9L, 16L, 25L, 30L, 30L}) {
    CAPTURE(expected);
    const auto ev = f.r.died(p, c, c.id, *c.started_at + 1s, exit_code);
    REQUIRE(ev.has_value());
    CHECK(ev->type == "service:instance_crash");
    CHECK(ev->severity == severity::warn);
    CHECK(ev->data.find("restarting in " + std::to_string(expected) + " s") != std::string::npos);

    auto plan = f.r.plan(p, c);
    CHECK(plan.steps.empty());
    REQUIRE(plan.wake_at.has_value());
    CHECK(*plan.wake_at == f.clock.now() + std::chrono::seconds(expected));
    REQUIRE(plan.set_state.has_value());
    CHECK(plan.set_state->state == "restarting");

    f.clock.advance(std::chrono::seconds(expected) - 1ms);
    CHECK(f.r.plan(p, c).steps.empty());
    f.clock.advance(1ms);
    CHECK(f.r.plan(p, c).steps == std::vector<Step>{{K::start, "c0ffee", 15s}});
    f.r.started();
    c.started_at = *c.started_at + 1min;
  }
  CHECK(f.r.crash_restarts() == 7);

  // Up for 10 s before dying: the counter starts again.
  const auto ev = f.r.died(p, c, c.id, *c.started_at + 10s, exit_code);
  REQUIRE(ev.has_value());
  CHECK(ev->data.find("restarting in 1 s") != std::string::npos);
  CHECK(f.r.crash_restarts() == 1);
}

TEST_CASE("reconcile: stale and foreign die events are ignored") {
  Fixture f;
  const auto p = pod();
  const auto c = container_of(p, true);
  // Older than (or as old as) the container's start: a restart we made, a replay.
  CHECK_FALSE(f.r.died(p, c, c.id, kStarted - 1s, 0).has_value());
  CHECK_FALSE(f.r.died(p, c, c.id, kStarted, 0).has_value());
  // Another container (the one just replaced).
  CHECK_FALSE(f.r.died(p, c, "0ld", kStarted + 5s, 0).has_value());
  // Not desired running.
  CHECK_FALSE(f.r.died(pod(DesiredState::stopped), c, c.id, kStarted + 5s, 0).has_value());
  CHECK_FALSE(f.r.died(std::nullopt, c, c.id, kStarted + 5s, 0).has_value());
  CHECK(f.r.crash_restarts() == 0);
  CHECK(f.r.plan(p, c).steps.empty());
}

TEST_CASE("reconcile: a restart request restarts that container once - stale requests are dropped") {
  Fixture f;
  const auto p = pod();
  auto c = container_of(p, true);
  f.r.request_restart(c.id);
  CHECK(f.r.plan(p, c).steps == std::vector<Step>{{K::restart, "c0ffee", 15s}});
  f.r.started();
  CHECK(f.r.plan(p, c).steps.empty());

  f.r.request_restart("replaced");
  CHECK(f.r.plan(p, c).steps.empty());
}

TEST_CASE("reconcile: set_state echoes deploy_rev byte for byte - never a duplicate - never an older rev") {
  Fixture f;
  auto p = pod();
  p.deploy_rev = "2018-08-10 12:34:56.000001 UTC \xc3\xa9";
  const auto c = container_of(p);
  auto plan = f.r.plan(p, c);
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->rev == p.deploy_rev);
  f.ack(plan);
  // Unchanged: not sent again.
  CHECK_FALSE(f.r.plan(p, c).set_state.has_value());

  // In flight counts as sent; a failed send is sent again.
  auto stopped = container_of(p, false);
  stopped.labels = c.labels;
  auto newer = p;
  newer.deploy_rev = "2018-08-10 12:34:57 UTC";
  f.r.pulled(newer, c.image_id);
  plan = f.r.plan(newer, c);
  REQUIRE(plan.set_state.has_value());
  f.r.sending(*plan.set_state);
  CHECK_FALSE(f.r.plan(newer, c).set_state.has_value());
  f.r.sent(*plan.set_state, false);
  plan = f.r.plan(newer, c);
  REQUIRE(plan.set_state.has_value());
  f.ack(plan);

  // An older rev (the master's cache, a reordered list) is never reported after a newer one.
  auto older = p;
  older.deploy_rev = "2018-08-10 12:00:00 UTC";
  f.r.pulled(older, c.image_id);
  CHECK_FALSE(f.r.plan(older, c).set_state.has_value());
  auto none = p;
  none.deploy_rev.reset();
  CHECK_FALSE(f.r.plan(none, c).set_state.has_value());
}

TEST_CASE("reconcile: a failed pull reports set_state with the error and an error event - retried next time") {
  Fixture f;
  const auto p = pod();
  const Step pull{K::pull};
  auto plan = f.r.failed(p, std::nullopt, pull,
                         fail(Errc::docker_not_found, "failed to pull image progrium/stress:latest: manifest unknown"));
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->state == "missing");
  CHECK(plan.set_state->rev == kRev);
  CHECK(plan.set_state->error ==
        "Docker::Error::NotFoundError: failed to pull image progrium/stress:latest: manifest unknown");
  REQUIRE(plan.events.size() == 1);
  CHECK(plan.events[0].severity == severity::error);
  f.ack(plan);
  // The next list tries again; the same error is not reported twice.
  CHECK(kinds(f.r.plan(p, std::nullopt)) == std::vector<K>{K::pull, K::create, K::start});
  plan = f.r.failed(p, std::nullopt, pull,
                    fail(Errc::docker_not_found, "failed to pull image progrium/stress:latest: manifest unknown"));
  CHECK_FALSE(plan.set_state.has_value());
  CHECK(plan.events.size() == 1);
  // Once it runs, the error is cleared.
  f.r.pulled(p, "sha256:aaa");
  plan = f.r.plan(p, container_of(p));
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->state == "running");
  CHECK_FALSE(plan.set_state->error.has_value());
}

TEST_CASE("observe: the inspect document - Docker times") {
  const auto doc = json::parse(R"({
    "Id": "abc", "Name": "/stress.stress-1", "Image": "sha256:123",
    "State": {"Running": false, "Error": "boom", "StartedAt": "2018-08-10T12:34:56.5Z"},
    "Config": {"Labels": {"io.kontena.service.id": "svc1"}}})");
  auto c = observe_container(doc);
  REQUIRE(c.has_value());
  CHECK(c->id == "abc");
  CHECK(c->name == "stress.stress-1");
  CHECK_FALSE(c->running);
  CHECK(c->state_error == "boom");
  CHECK(c->image_id == "sha256:123");
  CHECK(c->labels.at("io.kontena.service.id") == "svc1");
  REQUIRE(c->started_at.has_value());
  CHECK(*c->started_at == WallTime(std::chrono::seconds(1533904496) + 500ms));

  auto never = doc;
  never["State"]["StartedAt"] = "0001-01-01T00:00:00Z";
  CHECK_FALSE(observe_container(never)->started_at.has_value());
  CHECK_FALSE(observe_container(json{{"Id", "x"}}).has_value());

  CHECK(parse_docker_time("2018-08-10T14:34:56.123456789+02:00") ==
        WallTime(std::chrono::seconds(1533904496) + 123456789ns));
  CHECK_FALSE(parse_docker_time("2018-08-10 12:34:56 UTC").has_value());
  CHECK_FALSE(parse_docker_time("").has_value());
}

// ---- stateful data containers (kontena v1.5.4: agent/lib/kontena/service_pods/creator.rb, terminator.rb) ----

namespace {
ObservedContainer data_of(const ServicePod& p) {
  ObservedContainer d;
  d.id = "da7a";
  d.name = data_container_name(p);
  d.labels = data_container_body(p)["Labels"].get<std::map<std::string, std::string>>();
  return d;
}
}  // namespace

TEST_CASE("reconcile: a stateful pod gets its data container before its container - once") {
  Fixture f;
  auto p = pod();
  p.stateful = true;
  CHECK(kinds(f.r.plan(p, std::nullopt)) == std::vector<K>{K::pull, K::create_data, K::create, K::start});
  // The data container is there already (it outlived the old container): it is reused.
  CHECK(kinds(f.r.plan(p, std::nullopt, data_of(p))) == std::vector<K>{K::pull, K::create, K::start});
  // A stateless pod never gets one.
  p.stateful = false;
  CHECK(kinds(f.r.plan(p, std::nullopt)) == std::vector<K>{K::pull, K::create, K::start});
}

TEST_CASE("reconcile: recreating a stateful container keeps its data container") {
  Fixture f;
  auto p = pod();
  p.stateful = true;
  const auto c = container_of(p);
  p.service_revision = 3;
  const auto plan = f.r.plan(p, c, data_of(p));
  CHECK(kinds(plan) == std::vector<K>{K::pull, K::stop, K::remove, K::create, K::start});
  for (const auto& s : plan.steps) CHECK(s.container_id != "da7a");
  // Stopped: the container stops, the data stays.
  auto stopped = pod(DesiredState::stopped);
  stopped.stateful = true;
  CHECK(kinds(f.r.plan(stopped, container_of(stopped), data_of(stopped))) == std::vector<K>{K::stop});
}

TEST_CASE("reconcile: a terminated stateful pod removes its data container with v=1 after its container") {
  Fixture f;
  auto p = pod();
  p.stateful = true;
  const auto plan = f.r.plan(std::nullopt, container_of(p), data_of(p));
  REQUIRE(kinds(plan) == std::vector<K>{K::stop, K::remove, K::remove_data});
  CHECK(plan.steps[2].container_id == "da7a");
  CHECK(plan.steps[2].remove_volumes);
  CHECK_FALSE(plan.gone);
  // The container went already (an earlier round, or a failed removal): the data goes now.
  const auto rest = f.r.plan(std::nullopt, std::nullopt, data_of(p));
  CHECK(kinds(rest) == std::vector<K>{K::remove_data});
  CHECK_FALSE(rest.gone);
  CHECK(f.r.plan(std::nullopt, std::nullopt, std::nullopt).gone);
}

TEST_CASE("reconcile: a named volume that never came is reported as a Timeout::Error") {
  Fixture f;
  const auto p = pod();
  const auto plan = f.r.failed(p, std::nullopt, Step{K::create},
                               fail(Errc::volume_missing, "failed to create container x: the volume v is not on this node"));
  REQUIRE(plan.set_state.has_value());
  CHECK(plan.set_state->state == "missing");
  CHECK(plan.set_state->error == "Timeout::Error: failed to create container x: the volume v is not on this node");
}

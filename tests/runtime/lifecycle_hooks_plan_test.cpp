// Lifecycle hooks without Docker: where the reconciler puts the hook steps in a plan (the
// order of kontena v1.5.4: agent/lib/kontena/service_pods/creator.rb: old container pre_stop,
// stop, remove; pre_start; create, start; post_start), oneshots once marked, and the
// demultiplexing of the output stream the hooks' lines come from.
#include "docker/output_frames.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/reconciler.hpp"
#include "support/catch_result.hpp"

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;

namespace {

const std::string kRev = "2018-08-10 12:34:56 UTC";

ServicePod pod(DesiredState desired = DesiredState::running) {
  ServicePod p;
  p.id = "svc1/1";
  p.desired_state = desired;
  p.service_id = "svc1";
  p.service_name = "app.web";
  p.service_revision = 2;
  p.instance_number = 1;
  p.deploy_rev = kRev;
  p.image_name = "busybox";
  p.stop_grace_period = 15;
  p.hooks = {{"h1", "pre_start", "echo pre", false},
             {"h2", "post_start", "echo post", false},
             {"h3", "pre_stop", "echo stop", false},
             {"h4", "pre_start", "echo once", true}};
  return p;
}

ObservedContainer container_of(const ServicePod& p, bool running = true) {
  ObservedContainer c;
  c.id = "c0ffee";
  c.name = container_name(p);
  c.running = running;
  c.started_at = WallTime(std::chrono::seconds(1533904496));
  c.labels = container_labels(p);
  c.image_id = "sha256:aaa";
  return c;
}

using K = StepKind;

std::vector<K> kinds(const Plan& plan) {
  std::vector<K> out;
  for (const auto& s : plan.steps) out.push_back(s.kind);
  return out;
}

const Step& step(const Plan& plan, K kind) {
  for (const auto& s : plan.steps) {
    if (s.kind == kind) return s;
  }
  FAIL("no step " << to_string(kind));
  throw std::logic_error("unreachable");
}

std::vector<std::string> cmds(const Step& s) {
  std::vector<std::string> out;
  for (const auto& h : s.hooks) out.push_back(h.cmd);
  return out;
}

struct Fixture {
  ManualClock clock;
  PodReconciler r{clock};
};

}  // namespace

TEST_CASE("hooks: a new instance runs pre_start before create and post_start after start") {
  Fixture f;
  f.r.pulled(pod(), "sha256:aaa");
  const auto plan = f.r.plan(pod(), std::nullopt);
  CHECK(kinds(plan) == std::vector<K>{K::pre_start, K::create, K::start, K::post_start});
  CHECK(cmds(step(plan, K::pre_start)) == std::vector<std::string>{"echo pre", "echo once"});
  CHECK(step(plan, K::pre_start).container_id.empty());  // no old container: the hook's own id
  CHECK(cmds(step(plan, K::post_start)) == std::vector<std::string>{"echo post"});
  CHECK(step(plan, K::post_start).container_id.empty());  // the container just created
}

TEST_CASE("hooks: a pod without hooks plans no hook steps") {
  Fixture f;
  auto p = pod();
  p.hooks.clear();
  CHECK(kinds(f.r.plan(p, std::nullopt)) == std::vector<K>{K::pull, K::create, K::start});
  CHECK(kinds(f.r.plan(p, container_of(p))).empty());
}

TEST_CASE("hooks: a re-create runs the old container's pre_stop before its stop, then pre_start, then post_start") {
  Fixture f;
  const auto p = pod();
  auto old = container_of(p);
  old.labels[label::service_revision] = "1";
  f.r.pulled(p, "sha256:aaa");
  const auto plan = f.r.plan(p, old);
  CHECK(kinds(plan) ==
        std::vector<K>{K::pre_stop, K::stop, K::remove, K::pre_start, K::create, K::start, K::post_start});
  CHECK(step(plan, K::pre_stop).container_id == "c0ffee");
  CHECK(cmds(step(plan, K::pre_stop)) == std::vector<std::string>{"echo stop"});
  CHECK(step(plan, K::pre_start).container_id == "c0ffee");  // its output goes under the old id
}

TEST_CASE("hooks: a stopped old container is re-created without pre_stop") {
  Fixture f;
  const auto p = pod();
  auto old = container_of(p, false);
  old.labels[label::service_revision] = "1";
  f.r.pulled(p, "sha256:aaa");
  CHECK(kinds(f.r.plan(p, old)) == std::vector<K>{K::remove, K::pre_start, K::create, K::start, K::post_start});
}

TEST_CASE("hooks: starting a stopped container runs pre_start and post_start around the start") {
  Fixture f;
  const auto p = pod();
  f.r.pulled(p, "sha256:aaa");
  const auto plan = f.r.plan(p, container_of(p, false));
  CHECK(kinds(plan) == std::vector<K>{K::pre_start, K::start, K::post_start});
  CHECK(step(plan, K::post_start).container_id == "c0ffee");
}

TEST_CASE("hooks: desired stopped runs pre_stop before the stop, and a restart request runs no hooks") {
  Fixture f;
  const auto stopped = pod(DesiredState::stopped);
  const auto plan = f.r.plan(stopped, container_of(stopped));
  CHECK(kinds(plan) == std::vector<K>{K::pre_stop, K::stop});
  CHECK(kinds(f.r.plan(stopped, container_of(stopped, false))).empty());

  const auto p = pod();
  f.r.request_restart("c0ffee");
  CHECK(kinds(f.r.plan(p, container_of(p))) == std::vector<K>{K::restart});
}

TEST_CASE("hooks: a pod that left the list gets the pre_stop hooks it last had") {
  Fixture f;
  const auto p = pod();
  f.r.track_hooks(p);
  const auto plan = f.r.plan(std::nullopt, container_of(p));
  CHECK(kinds(plan) == std::vector<K>{K::pre_stop, K::stop, K::remove});
  CHECK(cmds(step(plan, K::pre_stop)) == std::vector<std::string>{"echo stop"});
  // Already stopped: nothing to run the hook in.
  CHECK(kinds(f.r.plan(std::nullopt, container_of(p, false))) == std::vector<K>{K::remove});
}

TEST_CASE("hooks: a oneshot marked done is not planned again while the pod still lists it") {
  Fixture f;
  const auto p = pod();
  f.r.pulled(p, "sha256:aaa");
  f.r.oneshot_marked("h4");
  const auto plan = f.r.plan(p, std::nullopt);
  CHECK(cmds(step(plan, K::pre_start)) == std::vector<std::string>{"echo pre"});
  // Only oneshots: the step goes away with the last of them.
  auto only_once = p;
  only_once.hooks = {{"h4", "pre_start", "echo once", true}};
  CHECK(kinds(f.r.plan(only_once, std::nullopt)) == std::vector<K>{K::create, K::start});
}

TEST_CASE("hooks: a failed pre_start is the instance's creation failing, reported as RuntimeError") {
  Fixture f;
  const auto p = pod();
  const auto plan = f.r.failed(p, std::nullopt, Step{K::pre_start},
                               fail(Errc::hook_failed, "failed to run the pre_start hook 'exit 1' of app.web-1"));
  REQUIRE(plan.events.size() == 1);
  CHECK(plan.events[0].type == "service:create_instance");
  CHECK(plan.events[0].severity == severity::error);
  REQUIRE(plan.set_state);
  CHECK(plan.set_state->state == "missing");
  CHECK(plan.set_state->error == "RuntimeError: failed to run the pre_start hook 'exit 1' of app.web-1");
}

TEST_CASE("hooks: Docker's multiplexed output is split into its streams, also across pieces") {
  auto frame = [](char stream, std::string_view data) {
    std::string f{stream, 0, 0, 0};
    const auto n = static_cast<std::uint32_t>(data.size());
    f += static_cast<char>((n >> 24U) & 0xffU);
    f += static_cast<char>((n >> 16U) & 0xffU);
    f += static_cast<char>((n >> 8U) & 0xffU);
    f += static_cast<char>(n & 0xffU);
    return f + std::string(data);
  };
  const std::string big(300, 'x');  // a size over 255 needs the second length byte
  const std::string stream = frame(1, "hello\n") + frame(2, "oops\n") + frame(1, big);
  std::vector<std::pair<docker::OutputStream, std::string>> got;
  docker::StreamDemux frames;
  for (std::size_t i = 0; i < stream.size(); i += 5) {  // pieces that cut headers and payloads
    frames.feed(std::string_view(stream).substr(i, 5), [&](int s, std::string_view d, bool frame_start) {
      if (frame_start) got.emplace_back(static_cast<docker::OutputStream>(s), std::string());
      got.back().second.append(d);
    });
  }
  CHECK(frames.at_boundary());
  REQUIRE(got.size() == 3);
  CHECK(got[0] == std::pair{docker::OutputStream::stdout_stream, std::string("hello\n")});
  CHECK(got[1] == std::pair{docker::OutputStream::stderr_stream, std::string("oops\n")});
  CHECK(got[2].second == big);
}

// unit_installer's activate(): what kontena-bootstrap apply asks systemd to do after
// rendering the unit templates, recorded by a stand-in service manager.
#include "bootstrap/unit_installer.hpp"

#include "support/catch_result.hpp"

#include <string>
#include <vector>

using namespace kn;

namespace {

class RecordingManager final : public systemd::ServiceManager {
 public:
  std::vector<std::string> calls;
  std::string fail_on;  // a call that answers Errc::systemd_failed

  Status daemon_reload() override { return record("daemon-reload"); }
  Status reload_unit(std::string_view unit) override { return record("reload " + std::string(unit)); }
  Status restart_unit(std::string_view unit, systemd::JobWait wait) override {
    return record("restart " + std::string(unit) + waited(wait));
  }
  Status start_unit(std::string_view unit, systemd::JobWait wait) override {
    return record("start " + std::string(unit) + waited(wait));
  }

 private:
  static std::string waited(systemd::JobWait wait) { return wait == systemd::JobWait::queued ? " (queued)" : ""; }
  Status record(std::string call) {
    calls.push_back(call);
    if (call == fail_on) return fail(Errc::systemd_failed, "systemd said no");
    return {};
  }
};

bootstrap::InstallReport report_with(bool changed) {
  bootstrap::InstallReport r;
  r.templates_found = true;
  r.files.push_back({.relative = "efs.mount", .unit = "efs.mount", .changed = changed});
  return r;
}

}  // namespace

TEST_CASE("activate: a changed unit means one daemon-reload, then the starts and restarts, queued") {
  RecordingManager m;
  auto done = bootstrap::activate(&m, report_with(true), {.start = {"efs.mount"}, .restart = {"app.service"}});
  REQUIRE(done.has_value());
  CHECK(m.calls == std::vector<std::string>{"daemon-reload", "start efs.mount (queued)", "restart app.service (queued)"});
  CHECK(*done == std::vector<std::string>{"daemon-reload", "queued start of efs.mount", "queued restart of app.service"});
}

TEST_CASE("activate: nothing changed - no daemon-reload and no restart, but the starts still run") {
  RecordingManager m;
  auto done = bootstrap::activate(&m, report_with(false), {.start = {"efs.mount"}, .restart = {"app.service"}});
  REQUIRE(done.has_value());
  CHECK(m.calls == std::vector<std::string>{"start efs.mount (queued)"});
}

TEST_CASE("activate: nothing to do needs no service manager at all") {
  const bootstrap::Activation none;
  CHECK_FALSE(bootstrap::needs_service_manager(report_with(false), none));
  auto done = bootstrap::activate(nullptr, report_with(false), none);
  REQUIRE(done.has_value());
  CHECK(done->empty());
}

TEST_CASE("activate: a refused job stops there and names the unit") {
  RecordingManager m;
  m.fail_on = "start efs.mount (queued)";
  auto done = bootstrap::activate(&m, report_with(true), {.start = {"efs.mount", "other.service"}});
  REQUIRE_FALSE(done.has_value());
  CHECK(done.error().is(Errc::systemd_failed));
  CHECK_THAT(done.error().message, Catch::Contains("failed to start efs.mount") && Catch::Contains("systemd said no"));
  CHECK(m.calls == std::vector<std::string>{"daemon-reload", "start efs.mount (queued)"});
}

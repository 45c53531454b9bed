// ServiceManager over sd-bus. There is no system bus or systemd on the test machines, so the
// test runs a real private dbus-daemon (Debian `dbus`) and registers a stand-in for
// org.freedesktop.systemd1 on it: a real bus and a real sd-bus client, with a FAKE systemd
// that records the calls and answers like the manager does (job path, then JobRemoved).
#include "support/catch_result.hpp"
#include "support/process.hpp"
#include "systemd/service_manager.hpp"

#include <systemd/sd-bus.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unistd.h>

using kn::test::Process;
using kn::test::TempDir;

namespace {

constexpr const char* kDbusDaemon = "/usr/bin/dbus-daemon";

// dbus-daemon on a socket in a temp dir, with a policy that lets anyone own any name.
class PrivateBus {
 public:
  PrivateBus() {
    std::ofstream(dir_ / "bus.conf")
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig>\n  <type>kontena-test</type>\n"
           "  <listen>unix:path=" << (dir_ / "bus").string() << "</listen>\n"
           "  <auth>EXTERNAL</auth>\n"
           "  <policy context=\"default\">\n"
           "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow eavesdrop=\"true\"/>\n"
           "    <allow own=\"*\"/>\n  </policy>\n</busconfig>\n";
    process_ = std::make_unique<Process>(
        std::vector<std::string>{kDbusDaemon, "--config-file=" + (dir_ / "bus.conf").string(), "--nofork",
                                 "--print-address"},
        kn::test::Env{}, dir_ / "address", dir_ / "err");
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (address_.empty()) {
      auto text = kn::test::read_text(dir_ / "address");
      if (auto nl = text.find('\n'); nl != std::string::npos) address_ = text.substr(0, nl);
      if (!address_.empty()) break;
      if (!process_->running() || std::chrono::steady_clock::now() > end) {
        throw std::runtime_error("dbus-daemon did not start: " + kn::test::read_text(dir_ / "err"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const std::string& address() const { return address_; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::string address_;
};

// The stand-in manager: a thread serving org.freedesktop.systemd1.Manager on the private bus.
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& address) {
    sd_bus_new(&bus_);
    sd_bus_set_address(bus_, address.c_str());
    sd_bus_set_bus_client(bus_, 1);
    if (sd_bus_start(bus_) < 0) throw std::runtime_error("fake systemd: cannot connect to " + address);
    if (sd_bus_add_object_vtable(bus_, nullptr, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                 kVtable, this) < 0 ||
        sd_bus_request_name(bus_, "org.freedesktop.systemd1", 0) < 0) {
      throw std::runtime_error("fake systemd: cannot register");
    }
    thread_ = std::thread([this] {
      while (!stop_) {
        const int r = sd_bus_process(bus_, nullptr);
        if (r < 0) break;
        if (r == 0) sd_bus_wait(bus_, 50'000);
      }
    });
  }
  ~FakeSystemd() {
    stop_ = true;
    thread_.join();
    sd_bus_flush_close_unref(bus_);
  }
  FakeSystemd(const FakeSystemd&) = delete;
  FakeSystemd& operator=(const FakeSystemd&) = delete;

  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  void record(std::string call) {
    std::lock_guard lock(mutex_);
    calls_.push_back(std::move(call));
  }

  static int on_plain(sd_bus_message* m, void* userdata, sd_bus_error* /*error*/) {
    auto* self = static_cast<FakeSystemd*>(userdata);
    self->record(sd_bus_message_get_member(m));
    return sd_bus_reply_method_return(m, "");
  }

  // ReloadUnit/RestartUnit/StartUnit(s name, s mode) -> o job; then JobRemoved(u, o, s, s).
  // "missing.service" does not exist; "failing.service" jobs end with result "failed".
  static int on_job(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    auto* self = static_cast<FakeSystemd*>(userdata);
    const char* unit = nullptr;
    const char* mode = nullptr;
    if (sd_bus_message_read(m, "ss", &unit, &mode) < 0) return -EINVAL;
    self->record(std::string(sd_bus_message_get_member(m)) + " " + unit + " " + mode);
    const std::string name(unit);
    if (name == "missing.service") {
      return sd_bus_error_setf(error, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not found.", unit);
    }
    const auto id = ++self->next_job_;
    const std::string job = "/org/freedesktop/systemd1/job/" + std::to_string(id);
    const int r = sd_bus_reply_method_return(m, "o", job.c_str());
    if (r < 0) return r;
    sd_bus_emit_signal(self->bus_, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "JobRemoved",
                       "uoss", id, job.c_str(), unit, name == "failing.service" ? "failed" : "done");
    return 1;
  }

  static const sd_bus_vtable kVtable[];

  sd_bus* bus_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> calls_;
  std::uint32_t next_job_ = 0;
};

const sd_bus_vtable FakeSystemd::kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Subscribe", "", "", FakeSystemd::on_plain, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Reload", "", "", FakeSystemd::on_plain, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ReloadUnit", "ss", "o", FakeSystemd::on_job, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("RestartUnit", "ss", "o", FakeSystemd::on_job, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("StartUnit", "ss", "o", FakeSystemd::on_job, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

bool have_dbus() { return ::access(kDbusDaemon, X_OK) == 0; }

// Points sd_bus_open_system at the private bus for the test's duration.
struct SystemBusAddress {
  explicit SystemBusAddress(const std::string& address) { ::setenv("DBUS_SYSTEM_BUS_ADDRESS", address.c_str(), 1); }
  ~SystemBusAddress() { ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS"); }
};

#define REQUIRE_DBUS()                                                     \
  if (!have_dbus()) {                                                      \
    FAIL("needs /usr/bin/dbus-daemon (Debian dbus package): run scripts/install-deps.sh");     \
    return;                                                                \
  }

}  // namespace

TEST_CASE("service manager: unit jobs go to systemd with mode replace and wait for the job") {
  REQUIRE_DBUS();
  PrivateBus bus;
  FakeSystemd systemd(bus.address());
  SystemBusAddress env(bus.address());
  auto manager = kn::systemd::connect_system_bus(std::chrono::seconds(10));
  REQUIRE(manager);
  CHECK((*manager)->reload_unit("docker.service"));
  CHECK((*manager)->restart_unit("kontena-agent.service", kn::systemd::JobWait::until_done));
  CHECK((*manager)->start_unit("kontena-bootstrap.service", kn::systemd::JobWait::until_done));
  CHECK((*manager)->daemon_reload());
  auto calls = systemd.calls();
  calls.erase(std::remove(calls.begin(), calls.end(), "Subscribe"), calls.end());
  CHECK(calls == std::vector<std::string>{"ReloadUnit docker.service replace", "RestartUnit kontena-agent.service replace",
                                          "StartUnit kontena-bootstrap.service replace", "Reload"});
}

TEST_CASE("service manager: errors and failed jobs are systemd_failed with the reason") {
  REQUIRE_DBUS();
  PrivateBus bus;
  FakeSystemd systemd(bus.address());
  SystemBusAddress env(bus.address());
  auto manager = kn::systemd::connect_system_bus(std::chrono::seconds(10));
  REQUIRE(manager);
  auto missing = (*manager)->reload_unit("missing.service");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is(kn::Errc::systemd_failed));
  CHECK_THAT(missing.error().message, Catch::Contains("failed to reload missing.service") &&
                                          Catch::Contains("NoSuchUnit"));
  auto failing = (*manager)->restart_unit("failing.service", kn::systemd::JobWait::until_done);
  REQUIRE_FALSE(failing);
  CHECK_THAT(failing.error().message, Catch::Contains("result 'failed'") && Catch::Contains("journalctl -u failing.service"));
  // Only queued: the call succeeds once systemd accepted the job, whatever its result.
  CHECK((*manager)->restart_unit("failing.service", kn::systemd::JobWait::queued));
  CHECK((*manager)->start_unit("failing.service", kn::systemd::JobWait::queued));
  auto unknown = (*manager)->start_unit("missing.service", kn::systemd::JobWait::queued);
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message, Catch::Contains("NoSuchUnit"));
}

TEST_CASE("service manager: no bus is systemd_failed (exit 69)") {
  TempDir dir;
  SystemBusAddress env("unix:path=" + (dir / "no-bus").string());
  auto manager = kn::systemd::connect_system_bus();
  REQUIRE_FALSE(manager);
  CHECK(manager.error().is(kn::Errc::systemd_failed));
  CHECK(manager.error().exit_code() == 69);
  CHECK_FALSE(kn::systemd::unit_of_pid(999999999));
}

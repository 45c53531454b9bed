// wait_for_port against a real dockerd (own bridge, busybox imported offline) with a shortened
// limit: a port that never opens holds the set_state back, then fails it with Timeout::Error.
// The image is named after a loopback port nobody listens on, so the pull fails at once and the
// local image is used: no traffic leaves the machine.
#include "runtime/pod_manager.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/registry.hpp"

#include <boost/asio/io_context.hpp>

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using kn::test::Dockerd;
using nlohmann::json;

namespace {

const std::string kNode = "AAAA:BBBB:CCCC";

// Answers list with `pods` and every other request with {}; keeps the set_state reports.
struct ListingMaster : MasterPort {
  json pods = json::array();
  std::vector<json> states;
  void call(std::string method, json params, std::function<void(Result<json>)> done) override {
    if (method == "/node_service_pods/list") return done(json{{"service_pods", pods}});
    if (method == "/node_service_pods/set_state") states.push_back(params[1]);
    done(json::object());
  }
  void notify(std::string, json) override {}
};

}  // namespace

TEST_CASE("wait_for_port: a port that never opens holds set_state back until the limit, then reports Timeout::Error",
          "[runtime][docker]") {
  REQUIRE(Dockerd::available());
  REQUIRE(kn::test::busybox_image_available());
  Dockerd dockerd({.own_bridge = true});
  const auto image = "127.0.0.1:" + std::to_string(kn::test::free_loopback_port()) + "/kn/busybox";
  kn::test::import_busybox_image(dockerd, image + ":latest");

  boost::asio::io_context io;
  ListingMaster master;
  const std::string rev = "2026-11-30 10:00:00 UTC";
  master.pods = json::array({json{{"id", "svc1/1"},
                                  {"desired_state", "running"},
                                  {"service_id", "svc1"},
                                  {"service_name", "web.web"},
                                  {"service_revision", 1},
                                  {"instance_number", 1},
                                  {"deploy_rev", rev},
                                  {"image_name", image},
                                  {"cmd", json::array({"sleep", "3600"})},
                                  {"net", "bridge"},
                                  {"stop_grace_period", 1},
                                  {"wait_for_port", 8080},
                                  {"labels", {{"io.kontena.service.id", "svc1"}}}}});
  PodManager manager(io.get_executor(), dockerd.docker_host(), kNode, master,
                     PodManagerOptions{.list_interval = 30s, .wait_for_port_limit = 2s});
  manager.start();
  manager.on_node_info();
  const auto end = std::chrono::steady_clock::now() + 60s;
  while (master.states.empty() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(20ms);
  }
  manager.stop();
  REQUIRE(master.states.size() == 1);  // one report, and only after the wait
  const auto& s = master.states[0];
  CHECK(s["state"] == "running");
  CHECK(s["rev"] == rev);
  REQUIRE(s["error"].is_string());
  CHECK_THAT(s["error"].get<std::string>(), Catch::StartsWith("Timeout::Error: port 8080 of web.web-1"));
}

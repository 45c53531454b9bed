// The PodManager's master-facing surface without a Docker engine (its socket does not exist):
// the served methods, replies that never wait for Docker, and when lists are asked for.
#include "runtime/pod_manager.hpp"
#include "support/catch_result.hpp"

#include <boost/asio/io_context.hpp>

using namespace kn;
using namespace kn::runtime;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct CountingMaster : MasterPort {
  std::vector<std::pair<std::string, json>> calls;
  void call(std::string method, json params, std::function<void(Result<json>)> done) override {
    calls.emplace_back(method, params);
    done(method == "/node_service_pods/list" ? json{{"service_pods", json::array()}} : json::object());
  }
  void notify(std::string, json) override {}
  std::size_t lists() const {
    std::size_t n = 0;
    for (const auto& [m, p] : calls) n += m == "/node_service_pods/list";
    return n;
  }
};

struct Fixture {
  boost::asio::io_context io;
  CountingMaster master;
  PodManager manager{io.get_executor(), "unix:///nonexistent/kn-test-docker.sock", "NODE:1", master,
                     PodManagerOptions{.list_interval = 100ms, .cleanup_interval = 10s, .docker_retry = 50ms}};
  ~Fixture() { manager.stop(); }
  void run_for(std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
  }
};

}  // namespace

TEST_CASE("pod manager rpc: serves notify_update and restart, and what its services serve") {
  Fixture f;
  CHECK(f.manager.served_methods() == std::set<std::string>{"/service_pods/notify_update", "/service_pods/restart"});

  struct Echo : RuntimeService {
    std::set<std::string> methods() const override { return {"/test/echo"}; }
    void on_master_call(std::optional<std::uint32_t>, const std::string&, const nlohmann::json& params,
                        std::function<void(Result<nlohmann::json>)> reply) override {
      reply(params);
    }
  };
  f.manager.add_service(std::make_shared<Echo>());
  CHECK(f.manager.served_methods().contains("/test/echo"));
  std::optional<Result<nlohmann::json>> answer;
  f.manager.on_master_call(7, "/test/echo", nlohmann::json::array({1, 2}),
                           [&](Result<nlohmann::json> r) { answer = std::move(r); });
  REQUIRE(answer);
  REQUIRE(answer->has_value());
  CHECK(**answer == nlohmann::json::array({1, 2}));
}

TEST_CASE("pod manager rpc: notify_update is answered with {} at once - even with Docker down") {
  Fixture f;
  f.manager.start();
  f.manager.on_node_info();
  std::optional<Result<json>> reply;
  f.manager.on_master_call(3, "/service_pods/notify_update", json::array({json::array()}),
                           [&](Result<json> r) { reply = std::move(r); });
  REQUIRE(reply.has_value());
  REQUIRE(reply->has_value());
  CHECK(**reply == json::object());

  reply.reset();
  f.manager.on_master_call(4, "/service_pods/restart", json::array({"svc", 1}), [&](Result<json> r) { reply = std::move(r); });
  REQUIRE(reply.has_value());
  CHECK(reply->has_value());

  reply.reset();
  f.manager.on_master_call(5, "/service_pods/restart", json::array({1}), [&](Result<json> r) { reply = std::move(r); });
  REQUIRE(reply.has_value());
  REQUIRE_FALSE(reply->has_value());
  CHECK(reply->error().message.find("service_id, instance_number") != std::string::npos);
}

TEST_CASE("pod manager rpc: lists after node_info - on each notice - and on the schedule") {
  Fixture f;
  f.manager.start();
  // No list before node_info (the master answers "Node not found" until it knows the node).
  f.manager.on_master_call(std::nullopt, "/service_pods/notify_update", json::array({"start"}), nullptr);
  f.run_for(50ms);
  CHECK(f.master.lists() == 0);

  f.manager.on_node_info();
  CHECK(f.master.lists() == 1);
  CHECK(f.master.calls.at(0).second == json::array({"NODE:1"}));
  f.manager.on_master_call(std::nullopt, "/service_pods/notify_update", json::array({"stop"}), nullptr);
  CHECK(f.master.lists() == 2);
  f.run_for(350ms);
  CHECK(f.master.lists() >= 4);

  // Offline: no lists until node_info comes again.
  f.manager.on_link_lost();
  const auto before = f.master.lists();
  f.run_for(250ms);
  CHECK(f.master.lists() == before);
  f.manager.on_node_info();
  CHECK(f.master.lists() == before + 1);
}

// The typed settings: what validation accepted is what the node uses.
#include "node/options.hpp"

#include "support/catch_result.hpp"

#include <map>

using namespace kn;

namespace {

Result<node::NodeOptions> options_from(std::map<std::string, std::string> env) {
  env.emplace("KONTENA_CONFIG", "/dev/null");
  config::Sources sources;
  sources.env = [env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto settings = config::Settings::load(sources);
  if (!settings) return settings.error();
  return node::node_options(*settings);
}

}  // namespace

TEST_CASE("node options: AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=Ipv6 dials the IPv6 endpoint, in any case") {
  for (const auto* mode : {"IPv6", "Ipv6", "ipv6", "IPV6"}) {
    auto o = options_from({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", mode}});
    REQUIRE(o.has_value());
    CHECK(o->imds.client.endpoint == "http://[fd00:ec2::254]");
  }
  auto v4 = options_from({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv4"}});
  REQUIRE(v4.has_value());
  CHECK(v4->imds.client.endpoint == "http://169.254.169.254");
  // An explicit endpoint wins over the mode.
  auto pinned = options_from({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"},
                              {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/"}});
  REQUIRE(pinned.has_value());
  CHECK(pinned->imds.client.endpoint == "http://127.0.0.1:1338");
}

TEST_CASE("node options: KONTENA_LOG_LEVEL=DEBUG logs at debug") {
  auto o = options_from({{"KONTENA_LOG_LEVEL", "DEBUG"}});
  REQUIRE(o.has_value());
  CHECK(o->log_level == spdlog::level::debug);
}

TEST_CASE("node options: defaults come from the option table") {
  auto o = options_from({});
  REQUIRE(o.has_value());
  CHECK(o->docker.docker_host == "unix:///var/run/docker.sock");
  CHECK(o->docker.daemon_json == "/etc/docker/daemon.json");
  CHECK(o->docker.verify_deadline == std::chrono::seconds(10));
  CHECK(o->imds.client.deadline == std::chrono::seconds(60));
  CHECK(o->labels.ephemeral);
}

TEST_CASE("node options: a node label breaking the label rules is a configuration error naming its origin") {
  auto o = options_from({{"KONTENA_NODE_LABELS", "com.docker.x=1"}});
  REQUIRE_FALSE(o.has_value());
  CHECK(o.error().exit_code() == exit_code::config);
  CHECK_THAT(o.error().message, Catch::Contains("KONTENA_NODE_LABELS"));
}

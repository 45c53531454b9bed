// ContainerApi against a real dockerd (with a test-owned bridge) and a loopback registry.
#include "docker/container_api.hpp"
#include "http/curl_transport.hpp"
#include "support/busybox_image.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"
#include "support/registry.hpp"

#include <set>

using kn::Errc;
using kn::docker::ContainerApi;
using kn::docker::RegistryAuth;
using kn::test::Dockerd;
using kn::test::Registry;
using namespace std::chrono_literals;

namespace {

bool peers_available() { return Dockerd::available() && Registry::available() && kn::test::busybox_image_available(); }
constexpr const char* kNeedPeers =
    "needs root, /usr/sbin/dockerd, docker-registry, htpasswd and busybox-static: run scripts/install-deps.sh as root";

// Direct Engine API calls for setup and assertions, independent of the code under test.
kn::http::Response engine(const Dockerd& d, const std::string& method, const std::string& path) {
  kn::http::CurlTransport transport;
  kn::http::Request req;
  req.method = method;
  req.url = "http://localhost/v1.41" + path;
  req.unix_socket = d.socket().string();
  auto r = transport.perform(req);
  REQUIRE(r);
  return *r;
}

std::set<std::string> volume_names(const Dockerd& d) {
  const auto doc = nlohmann::json::parse(engine(d, "GET", "/volumes").body);
  std::set<std::string> out;
  for (const auto& v : doc.value("Volumes", nlohmann::json::array())) out.insert(v["Name"].get<std::string>());
  return out;
}

constexpr const char* kImage = "kn-test/busybox:1";

// A process that ends promptly on SIGTERM (a shell as PID 1 has no default signal handlers).
nlohmann::json sleeper(nlohmann::json labels) {
  return {{"Image", kImage},
          {"Cmd", {"sh", "-c", "trap 'exit 0' TERM; sleep 30 & wait"}},
          {"Labels", std::move(labels)},
          {"HostConfig", {{"CpuShares", 512}}}};
}

}  // namespace

TEST_CASE("pull from a loopback registry with htpasswd authentication") {
  if (!peers_available()) FAIL(kNeedPeers);
  const std::string password = "s3cret-Pw-4711";
  Registry registry({.username = "kn", .password = password});
  Dockerd dockerd({.own_bridge = true});
  const std::string image = registry.address() + "/kn/busybox:1";
  kn::test::import_busybox_image(dockerd, image);
  const RegistryAuth auth{.username = "kn", .password = password, .email = "", .server_address = ""};
  kn::test::push_image(dockerd, image, auth);
  REQUIRE(engine(dockerd, "DELETE", "/images/" + image).status == 200);

  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  {
    auto missing = api->inspect_image(image);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().is(Errc::docker_not_found));
  }

  // One dockerd and registry for every case (each costs a second or two to start); the
  // successful pull comes last so the failures run without the image present.
  {
    INFO("a wrong password fails, naming the image and not quoting either password");
    const std::string wrong = "wrong-Pw-0815";
    auto pulled =
        api->pull(image, RegistryAuth{.username = "kn", .password = wrong, .email = "", .server_address = ""}, 60s);
    REQUIRE_FALSE(pulled);
    WARN(pulled.error().message);
    CHECK(pulled.error().message.find(image) != std::string::npos);
    CHECK(pulled.error().message.find(wrong) == std::string::npos);
    CHECK(pulled.error().message.find(password) == std::string::npos);
    CHECK_FALSE(api->inspect_image(image));
  }
  {
    INFO("no credentials fail");
    auto pulled = api->pull(image, std::nullopt, 60s);
    REQUIRE_FALSE(pulled);
    CHECK(pulled.error().message.find(image) != std::string::npos);
  }
  {
    INFO("a missing image fails naming it");
    const std::string absent = registry.address() + "/kn/absent:9";
    auto pulled = api->pull(absent, auth, 60s);
    REQUIRE_FALSE(pulled);
    WARN(pulled.error().message);
    CHECK((pulled.error().is(Errc::docker_not_found) || pulled.error().is(Errc::docker_failed)));
    CHECK(pulled.error().message.find(absent) != std::string::npos);
  }
  {
    INFO("the right password pulls the image");
    REQUIRE(api->pull(image, auth, 60s));
    auto inspected = api->inspect_image(image);
    REQUIRE(inspected);
    CHECK((*inspected)["RepoTags"].dump().find(image) != std::string::npos);
  }
}

TEST_CASE("containers: create, inspect, list by label, start, stop, restart, wait, remove") {
  if (!peers_available()) FAIL(kNeedPeers);
  Dockerd dockerd({.own_bridge = true});
  kn::test::import_busybox_image(dockerd, kImage);
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);

  auto id = api->create("kn-web-1", sleeper({{"io.kontena.service.name", "web"}, {"kn.test", "1"}}));
  REQUIRE(id);
  auto other = api->create("kn-db-1", sleeper({{"io.kontena.service.name", "db"}}));
  REQUIRE(other);

  auto inspected = api->inspect(*id);
  REQUIRE(inspected);
  CHECK((*inspected)["Name"] == "/kn-web-1");
  CHECK((*inspected)["Config"]["Labels"]["io.kontena.service.name"] == "web");
  CHECK((*inspected)["HostConfig"]["CpuShares"] == 512);

  auto again = api->create("kn-web-1", sleeper({}));
  REQUIRE_FALSE(again);
  CHECK(again.error().is(Errc::docker_conflict));
  CHECK(again.error().message.find("kn-web-1") != std::string::npos);

  auto listed = api->list({"io.kontena.service.name=web"});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == *id);
  CHECK(listed->front().name == "kn-web-1");
  CHECK(listed->front().image == kImage);
  CHECK(listed->front().state == "created");
  CHECK(listed->front().labels.at("kn.test") == "1");
  auto by_key = api->list({"io.kontena.service.name"});
  REQUIRE(by_key);
  CHECK(by_key->size() == 2);

  REQUIRE(api->start(*id));
  REQUIRE(api->start(*id));  // already running: 304, still a success
  inspected = api->inspect(*id);
  REQUIRE(inspected);
  CHECK((*inspected)["State"]["Running"] == true);
  // The default network is the test's own bridge.
  const auto ip = (*inspected)["NetworkSettings"]["IPAddress"].get<std::string>();
  const auto gateway = dockerd.bridge_gateway();
  CHECK(ip.substr(0, ip.rfind('.')) == gateway.substr(0, gateway.rfind('.')));

  auto still = api->wait(*id, 1s);
  REQUIRE_FALSE(still);
  CHECK(still.error().is(Errc::http_timeout));

  REQUIRE(api->stop(*id, 5s));
  REQUIRE(api->stop(*id, 5s));  // already stopped: 304
  auto code = api->wait(*id, 5s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(api->list({"io.kontena.service.name=web"})->front().state == "exited");

  REQUIRE(api->restart(*id, 5s));
  CHECK((*api->inspect(*id))["State"]["Running"] == true);

  REQUIRE(api->remove(*id, true, true));
  auto gone = api->inspect(*id);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().is(Errc::docker_not_found));
  REQUIRE(api->remove(*id, true, true));  // 404 counts as removed
  REQUIRE(api->remove(*other, false, false));
}

TEST_CASE("wait returns the exit code, and remove with volumes removes the anonymous volume") {
  if (!peers_available()) FAIL(kNeedPeers);
  Dockerd dockerd;
  kn::test::import_busybox_image(dockerd, kImage);
  auto api = ContainerApi::connect(dockerd.docker_host());
  REQUIRE(api);
  auto id = api->create("", {{"Image", kImage},
                             {"Cmd", {"sh", "-c", "echo hi > /data/f; exit 3"}},
                             {"Volumes", {{"/data", nlohmann::json::object()}}}});
  REQUIRE(id);
  REQUIRE(api->start(*id));
  auto code = api->wait(*id, 20s);
  REQUIRE(code);
  CHECK(*code == 3);
  const auto volumes = volume_names(dockerd);
  REQUIRE(volumes.size() == 1);
  REQUIRE(api->remove(*id, true, false));
  CHECK(volume_names(dockerd).empty());

  auto missing = api->inspect("no-such-container");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is(Errc::docker_not_found));
  auto not_created = api->create("x", {{"Image", "kn-test/absent:1"}});
  REQUIRE_FALSE(not_created);
  CHECK(not_created.error().is(Errc::docker_not_found));
}

TEST_CASE("a socket nobody listens on makes ContainerApi::connect docker_unavailable") {
  kn::test::TempDir dir;
  auto api = ContainerApi::connect("unix://" + (dir / "none.sock").string());
  REQUIRE_FALSE(api);
  CHECK(api.error().is(Errc::docker_unavailable));
}

TEST_CASE("the dockerd fixture's own bridge carries its address and is deleted with it") {
  if (!Dockerd::available()) FAIL(kNeedPeers);
  std::string bridge;
  {
    Dockerd dockerd({.own_bridge = true});
    bridge = dockerd.bridge();
    REQUIRE(bridge.starts_with("kntbr"));
    const auto shown = kn::test::run({"/usr/sbin/ip", "-br", "addr", "show", "dev", bridge});
    CHECK(shown.exit_code == 0);
    CHECK(shown.out.find(dockerd.bridge_gateway() + "/24") != std::string::npos);
  }
  CHECK(kn::test::run({"/usr/sbin/ip", "link", "show", "dev", bridge}).exit_code != 0);
}

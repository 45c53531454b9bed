// Pod -> POST /containers/create body, row by row of the create table
// (kontena v1.5.4: agent/lib/kontena/models/service_pod.rb), without the overlay rewrite.
#include "runtime/container_spec.hpp"
#include "support/catch_result.hpp"

using namespace kn;
using namespace kn::runtime;
using nlohmann::json;

namespace {

// The stress service of the ASG demo, as the master serializes it.
ServicePod stress_pod() {
  ServicePod p;
  p.id = "5b6c0e/1";
  p.desired_state = DesiredState::running;
  p.service_id = "5b6c0e";
  p.service_name = "stress.stress";
  p.service_revision = 2;
  p.instance_number = 1;
  p.deploy_rev = "2018-08-10 12:34:56 UTC";
  p.image_name = "progrium/stress";
  p.cmd = std::vector<std::string>{"-q", "--cpu", "1"};
  p.cpu_shares = 100;
  p.hostname = "stress-1";
  p.domainname = "stress.grid.kontena.local";
  p.env = {"KONTENA_SERVICE_NAME=stress"};
  p.labels = {{"io.kontena.service.id", "5b6c0e"},
              {"io.kontena.service.name", "stress"},
              {"io.kontena.stack.name", "stress"},
              {"io.kontena.grid.name", "grid"}};
  return p;
}

json body_of(const ServicePod& p) {
  auto b = create_body(p);
  REQUIRE(b.has_value());
  return *b;
}

}  // namespace

TEST_CASE("container spec: the ASG demo's stress pod") {
  const auto p = stress_pod();
  CHECK(container_name(p) == "stress.stress-1");
  const auto b = body_of(p);
  CHECK(b["Image"] == "progrium/stress:latest");
  CHECK(b["Cmd"] == json::array({"-q", "--cpu", "1"}));
  CHECK_FALSE(b.contains("Entrypoint"));
  CHECK(b["Hostname"] == "stress-1");
  CHECK(b["Domainname"] == "stress.grid.kontena.local");
  CHECK(b["Env"] == json::array({"KONTENA_SERVICE_NAME=stress"}));
  const auto& hc = b["HostConfig"];
  CHECK(hc["NetworkMode"] == "bridge");
  CHECK(hc["CpuShares"] == 100);
  CHECK(hc["DnsSearch"] == json::array({"stress.grid.kontena.local", "grid.kontena.local"}));
  // The node restarts containers itself: no restart policy, ever.
  CHECK_FALSE(hc.contains("RestartPolicy"));
  // No overlay: no weave wait entrypoint, no weavewait volumes, no Dns, no IPAM labels.
  CHECK_FALSE(hc.contains("VolumesFrom"));
  CHECK_FALSE(hc.contains("Dns"));
  CHECK_FALSE(b["Labels"].contains("io.kontena.container.overlay_cidr"));
  for (const char* absent : {"Memory", "MemorySwap", "ShmSize", "CpuPeriod", "CpuQuota", "Privileged", "CapAdd",
                             "CapDrop", "Devices", "PidMode", "ReadonlyRootfs", "LogConfig", "Binds", "PortBindings"}) {
    CAPTURE(absent);
    CHECK_FALSE(hc.contains(absent));
  }
}

TEST_CASE("container spec: io.kontena labels the node and the master read") {
  auto p = stress_pod();
  p.exposed = true;
  p.stop_grace_period = 25;
  const auto labels = body_of(p)["Labels"];
  const auto [key, value] = GENERATE(table<std::string, std::string>({
      {"io.kontena.container.type", "container"},
      {"io.kontena.container.name", "stress.stress-1"},
      {"io.kontena.container.pod", "stress.stress-1"},
      {"io.kontena.container.deploy_rev", "2018-08-10 12:34:56 UTC"},
      {"io.kontena.container.service_revision", "2"},
      {"io.kontena.container.stop_grace_period", "25"},
      {"io.kontena.service.instance_number", "1"},
      {"io.kontena.service.exposed", "1"},
      {"io.kontena.service.id", "5b6c0e"},
      {"io.kontena.service.name", "stress"},
      {"io.kontena.stack.name", "stress"},
      {"io.kontena.grid.name", "grid"},
  }));
  CAPTURE(key);
  REQUIRE(labels.contains(key));
  CHECK(labels[key] == value);

  p.exposed = false;
  CHECK_FALSE(body_of(p)["Labels"].contains("io.kontena.service.exposed"));
}

TEST_CASE("container spec: Env with secrets - same names joined by newline - a missing value gives NAME=") {
  auto p = stress_pod();
  p.secrets = {{"CERTS", "env", "a"}, {"TOKEN", "env", std::nullopt}, {"CERTS", "env", "b"}, {"FILE", "file", "x"}};
  CHECK(body_of(p)["Env"] == json::array({"KONTENA_SERVICE_NAME=stress", "CERTS=a\nb", "TOKEN="}));

  p.secrets = {{"BIG", "env", std::string(131072, 'x')}};
  auto b = create_body(p);
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().is(Errc::pod_invalid));
  CHECK(b.error().message.find("environment variable BIG") != std::string::npos);
  CHECK(b.error().message.find("xxx") == std::string::npos);
}

TEST_CASE("container spec: the create table - one row at a time") {
  using Edit = std::function<void(ServicePod&)>;
  const auto [row, edit, pointer, expected] = GENERATE(table<std::string, Edit, std::string, json>({
      {"entrypoint is one string", [](ServicePod& p) { p.entrypoint = "/bin/sh -c"; }, "/Entrypoint",
       json::array({"/bin/sh -c"})},
      {"user", [](ServicePod& p) { p.user = "nobody"; }, "/User", "nobody"},
      {"stop signal", [](ServicePod& p) { p.stop_signal = "SIGINT"; }, "/StopSignal", "SIGINT"},
      {"cpus", [](ServicePod& p) { p.cpus = 1.5; }, "/HostConfig/CpuQuota", 150000},
      {"cpus period", [](ServicePod& p) { p.cpus = 0.25; }, "/HostConfig/CpuPeriod", 100000},
      {"memory", [](ServicePod& p) { p.memory = 134217728; }, "/HostConfig/Memory", 134217728},
      {"memory swap", [](ServicePod& p) { p.memory_swap = 268435456; }, "/HostConfig/MemorySwap", 268435456},
      {"shm size", [](ServicePod& p) { p.shm_size = 67108864; }, "/HostConfig/ShmSize", 67108864},
      {"privileged", [](ServicePod& p) { p.privileged = true; }, "/HostConfig/Privileged", true},
      {"cap add", [](ServicePod& p) { p.cap_add = {"NET_ADMIN"}; }, "/HostConfig/CapAdd", json::array({"NET_ADMIN"})},
      {"cap drop", [](ServicePod& p) { p.cap_drop = {"MKNOD"}; }, "/HostConfig/CapDrop", json::array({"MKNOD"})},
      {"pid", [](ServicePod& p) { p.pid = "host"; }, "/HostConfig/PidMode", "host"},
      {"read only", [](ServicePod& p) { p.read_only = true; }, "/HostConfig/ReadonlyRootfs", true},
      {"devices, host only", [](ServicePod& p) { p.devices = {"/dev/fuse"}; }, "/HostConfig/Devices",
       json::parse(R"([{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"}])")},
      {"devices, all parts", [](ServicePod& p) { p.devices = {"/dev/sda:/dev/xvda:r"}; }, "/HostConfig/Devices",
       json::parse(R"([{"PathOnHost":"/dev/sda","PathInContainer":"/dev/xvda","CgroupPermissions":"r"}])")},
      {"log driver",
       [](ServicePod& p) {
         p.log_driver = "json-file";
         p.log_opts = {{"max-size", "10m"}};
       },
       "/HostConfig/LogConfig", json::parse(R"({"Type":"json-file","Config":{"max-size":"10m"}})")},
      {"net host", [](ServicePod& p) { p.net = "host"; }, "/HostConfig/NetworkMode", "host"},
      {"net container", [](ServicePod& p) { p.net = "container:other-1"; }, "/HostConfig/NetworkMode",
       "container:other-1"},
      {"bind mount with flags", [](ServicePod& p) { p.volumes = {{std::nullopt, "/data", "/var/data", "ro", {}, {}}}; },
       "/HostConfig/Binds", json::array({"/data:/var/data:ro"})},
      {"named volume", [](ServicePod& p) { p.volumes = {{"web.logs-1", std::nullopt, "/logs", std::nullopt, "local", {}}}; },
       "/HostConfig/Binds", json::array({"web.logs-1:/logs"})},
      {"anonymous volume",
       [](ServicePod& p) { p.volumes = {{std::nullopt, std::nullopt, "/cache", std::nullopt, std::nullopt, {}}}; },
       "/Volumes", json::parse(R"({"/cache":{}})")},
      {"volumes_from with %s", [](ServicePod& p) { p.volumes_from = {"data-%s", "static"}; }, "/HostConfig/VolumesFrom",
       json::array({"data-1", "static"})},
      {"image with tag", [](ServicePod& p) { p.image_name = "redis:7"; }, "/Image", "redis:7"},
      {"registry port is no tag", [](ServicePod& p) { p.image_name = "127.0.0.1:5000/app"; }, "/Image",
       "127.0.0.1:5000/app:latest"},
      {"digest kept", [](ServicePod& p) { p.image_name = "app@sha256:abc"; }, "/Image", "app@sha256:abc"},
  }));
  CAPTURE(row);
  auto p = stress_pod();
  edit(p);
  const auto b = body_of(p);
  const json::json_pointer ptr(pointer);
  REQUIRE(b.contains(ptr));
  CHECK(b[ptr] == expected);
}

TEST_CASE("container spec: ports are published on bridge only") {
  auto p = stress_pod();
  p.ports = {{"0.0.0.0", "tcp", 8080, 80}, {"127.0.0.1", "tcp", 8081, 80}, {"0.0.0.0", "udp", 5353, 53}};
  auto b = body_of(p);
  CHECK(b["ExposedPorts"] == json::parse(R"({"80/tcp":{},"53/udp":{}})"));
  CHECK(b["HostConfig"]["PortBindings"] ==
        json::parse(R"({"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"127.0.0.1","HostPort":"8081"}],
                        "53/udp":[{"HostIp":"0.0.0.0","HostPort":"5353"}]})"));

  for (const char* net : {"host", "container:db-1"}) {
    CAPTURE(net);
    p.net = net;
    b = body_of(p);
    CHECK_FALSE(b.contains("ExposedPorts"));
    CHECK_FALSE(b["HostConfig"].contains("PortBindings"));
    // Docker refuses a hostname with a shared network stack.
    CHECK_FALSE(b.contains("Hostname"));
    CHECK_FALSE(b.contains("Domainname"));
  }
  p.net = "host";
  CHECK(body_of(p)["HostConfig"]["DnsSearch"].size() == 2);
  p.net = "container:db-1";
  CHECK_FALSE(body_of(p)["HostConfig"].contains("DnsSearch"));
}

TEST_CASE("container spec: a stateful pod keeps its anonymous volumes in its data container") {
  auto p = stress_pod();
  p.stateful = true;
  p.volumes = {{std::nullopt, "/data", "/var/data", std::nullopt, std::nullopt, {}},
               {std::nullopt, std::nullopt, "/db", std::nullopt, std::nullopt, {}}};
  p.volumes_from = {"other-%s"};
  const auto b = body_of(p);
  // The service container mounts the data container's volumes, then the pod's own volumes_from.
  CHECK(b["HostConfig"]["VolumesFrom"] == json::array({"stress.stress-1-volumes", "other-1"}));
  CHECK_FALSE(b.contains("Volumes"));
  CHECK(b["HostConfig"]["Binds"] == json::array({"/data:/var/data"}));

  CHECK(data_container_name(p) == "stress.stress-1-volumes");
  const auto d = data_container_body(p);
  CHECK(d["Image"] == "progrium/stress:latest");
  CHECK(d["Volumes"] == json{{"/db", json::object()}});
  CHECK(d["Labels"]["io.kontena.container.type"] == "volume");
  CHECK(d["Labels"]["io.kontena.service.id"] == p.service_id);
  CHECK(d["Labels"]["io.kontena.service.instance_number"] == "1");
  CHECK_FALSE(d["HostConfig"].contains("Binds"));

  // Stateless: the anonymous volume is the container's own.
  p.stateful = false;
  const auto s = body_of(p);
  CHECK(s["Volumes"] == json{{"/db", json::object()}});
  CHECK(s["HostConfig"]["VolumesFrom"] == json::array({"other-1"}));
}

// The master's service pod as the node reads it: every key of the serializer, defaults for
// nil and missing keys, and a wrong type named with the pod and the key.
#include "runtime/service_pod.hpp"
#include "support/catch_result.hpp"

#include <iostream>

using namespace kn;
using namespace kn::runtime;
using nlohmann::json;

namespace {

// A pod as kontena v1.5.4: server/app/serializers/rpc/service_pod_serializer.rb builds it.
json full_pod() {
  return json::parse(R"({
    "id": "5b6c0e/2", "desired_state": "running", "service_id": "5b6c0e", "service_name": "web.api",
    "service_revision": 3, "updated_at": "2018-08-10 12:00:00 UTC", "instance_number": 2,
    "deploy_rev": "2018-08-10 12:34:56 UTC", "image_name": "registry.example.com:5000/api",
    "image_credentials": {"username": "u", "password": "p", "email": "e@x"},
    "stateful": false, "privileged": true, "read_only": true, "user": "nobody",
    "cmd": ["-q", "--cpu", "1"], "entrypoint": "/bin/stress",
    "memory": 134217728, "memory_swap": 268435456, "shm_size": 67108864, "cpus": 1.5, "cpu_shares": 100,
    "cap_add": ["NET_ADMIN"], "cap_drop": ["MKNOD"], "devices": ["/dev/fuse"], "pid": "host",
    "ports": [{"ip": "127.0.0.1", "protocol": "udp", "node_port": 5353, "container_port": 53}],
    "volumes": [{"bind_mount": "/data", "path": "/var/data", "flags": "ro"},
                {"bind_mount": null, "path": "/cache", "flags": null},
                {"name": "web.logs-2", "path": "/logs", "flags": null, "driver": "local", "driver_opts": {"o": "bind"}}],
    "volumes_from": ["data-%s"], "net": "bridge", "hostname": "api-2", "domainname": "web.g.kontena.local",
    "exposed": true, "log_driver": "json-file", "log_opts": {"max-size": "10m", "max-file": 3},
    "stop_signal": "SIGINT", "wait_for_port": 8080, "stop_grace_period": 20,
    "env": ["A=1", "KONTENA_SERVICE_NAME=api"],
    "secrets": [{"name": "DB", "type": "env", "value": "x"}, {"name": "MISSING", "type": "env", "value": null}],
    "labels": {"io.kontena.service.id": "5b6c0e", "io.kontena.load_balancer.internal_port": 80},
    "hooks": [{"id": "h1", "type": "post_start", "cmd": "echo hi", "oneshot": true}],
    "networks": [{"name": "kontena", "subnet": "10.81.0.0/16", "multicast": true, "internal": false}],
    "some_future_key": {"ignored": true}
  })");
}

}  // namespace

TEST_CASE("service pod: every key of the master's serializer is read") {
  auto p = decode_service_pod(full_pod());
  REQUIRE(p.has_value());
  CHECK(p->id == "5b6c0e/2");
  CHECK(p->key() == "5b6c0e/2");
  CHECK(p->desired_state == DesiredState::running);
  CHECK(p->service_name == "web.api");
  CHECK(p->service_revision == 3);
  CHECK(p->instance_number == 2);
  CHECK(p->deploy_rev == "2018-08-10 12:34:56 UTC");
  CHECK(p->image_name == "registry.example.com:5000/api");
  REQUIRE(p->image_credentials.has_value());
  CHECK(p->image_credentials->password == "p");
  CHECK(p->privileged);
  CHECK(p->read_only);
  CHECK(p->user == "nobody");
  CHECK(p->cmd == std::vector<std::string>{"-q", "--cpu", "1"});
  CHECK(p->entrypoint == "/bin/stress");
  CHECK(p->memory == 134217728);
  CHECK(p->memory_swap == 268435456);
  CHECK(p->shm_size == 67108864);
  CHECK(p->cpus == 1.5);
  CHECK(p->cpu_shares == 100);
  CHECK(p->cap_add == std::vector<std::string>{"NET_ADMIN"});
  CHECK(p->devices == std::vector<std::string>{"/dev/fuse"});
  CHECK(p->pid == "host");
  REQUIRE(p->ports.size() == 1);
  CHECK(p->ports[0].ip == "127.0.0.1");
  CHECK(p->ports[0].protocol == "udp");
  CHECK(p->ports[0].node_port == 5353);
  CHECK(p->ports[0].container_port == 53);
  REQUIRE(p->volumes.size() == 3);
  CHECK(p->volumes[0].bind_mount == "/data");
  CHECK_FALSE(p->volumes[1].bind_mount.has_value());
  CHECK_FALSE(p->volumes[1].name.has_value());
  CHECK(p->volumes[2].name == "web.logs-2");
  CHECK(p->volumes[2].driver_opts["o"] == "bind");
  CHECK(p->volumes_from == std::vector<std::string>{"data-%s"});
  CHECK(p->hostname == "api-2");
  CHECK(p->domainname == "web.g.kontena.local");
  CHECK(p->exposed);
  CHECK(p->log_driver == "json-file");
  CHECK(p->log_opts.at("max-file") == "3");
  CHECK(p->stop_signal == "SIGINT");
  CHECK(p->wait_for_port == 8080);
  CHECK(p->stop_grace_period == 20);
  CHECK(p->env.size() == 2);
  REQUIRE(p->secrets.size() == 2);
  CHECK_FALSE(p->secrets[1].value.has_value());
  CHECK(p->labels.at("io.kontena.load_balancer.internal_port") == "80");
  REQUIRE(p->hooks.size() == 1);
  CHECK(p->hooks[0].oneshot);
  REQUIRE(p->networks.size() == 1);
  CHECK(p->networks[0].multicast);
}

TEST_CASE("service pod: nil and missing keys take Kontena's defaults") {
  auto p = decode_service_pod(json{{"service_id", "s1"}, {"service_name", "null-svc"}, {"instance_number", 1},
                                   {"image_name", "busybox"}, {"deploy_rev", nullptr}, {"memory", nullptr},
                                   {"net", nullptr}, {"stop_grace_period", nullptr}});
  REQUIRE(p.has_value());
  CHECK(p->id == "s1/1");
  CHECK(p->desired_state == DesiredState::initialized);
  CHECK(p->service_revision == 1);
  CHECK_FALSE(p->deploy_rev.has_value());
  CHECK_FALSE(p->memory.has_value());
  CHECK_FALSE(p->cmd.has_value());
  CHECK_FALSE(p->image_credentials.has_value());
  CHECK(p->net == "bridge");
  CHECK(p->stop_grace_period == 10);
  CHECK(p->ports.empty());
  CHECK(p->labels.empty());
  CHECK_FALSE(p->exposed);
}

TEST_CASE("service pod: a wrong type names the pod and the key") {
  const auto [key, value, words] = GENERATE(table<std::string, json, std::string>({
      {"memory", "128m", "key 'memory' must be an integer, got string"},
      {"cpu_shares", 1.5, "key 'cpu_shares' must be an integer"},
      {"cmd", "sleep 10", "key 'cmd' must be an array of strings, got string"},
      {"cmd", json::array({"sleep", 10}), "key 'cmd' must be an array of strings, got number"},
      {"privileged", "true", "key 'privileged' must be true or false"},
      {"entrypoint", json::array({"/bin/sh"}), "key 'entrypoint' must be a string, got array"},
      {"ports", json::array({{{"node_port", "80"}}}), "key 'ports[0].node_port' must be an integer"},
      {"image_credentials", json{{"password", 5}}, "key 'image_credentials.password' must be a string"},
      {"labels", json::array(), "key 'labels' must be a map"},
      {"instance_number", 1ULL << 40U, "key 'instance_number' must be an integer"},
      {"desired_state", "exploded", "key 'desired_state' must be running, stopped or initialized, got 'exploded'"},
      {"net", "weave", "key 'net' must be bridge, host or container:NAME, got 'weave'"},
  }));
  CAPTURE(key, value);
  auto doc = full_pod();
  doc[key] = value;
  auto p = decode_service_pod(doc);
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().is(Errc::pod_invalid));
  CHECK(p.error().exit_code() == 78);
  CHECK(p.error().message.find("failed to decode service pod '5b6c0e/2'") == 0);
  CHECK(p.error().message.find(words) != std::string::npos);
  // The credentials never appear in a message.
  CHECK(p.error().message.find("\"p\"") == std::string::npos);
}

TEST_CASE("service pod: a pod without id is named by service and instance - required keys are checked") {
  auto doc = full_pod();
  doc.erase("id");
  doc["memory"] = "x";
  auto p = decode_service_pod(doc);
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().message.find("'web.api-2'") != std::string::npos);

  for (const char* required : {"service_id", "service_name", "instance_number", "image_name"}) {
    CAPTURE(required);
    auto d = full_pod();
    d.erase(required);
    auto q = decode_service_pod(d);
    REQUIRE_FALSE(q.has_value());
    CHECK(q.error().message.find(required) != std::string::npos);
  }
}

TEST_CASE("service pod list: good pods survive a bad one, whose key is kept - a bad shape fails") {
  auto bad = full_pod();
  bad["service_id"] = "bad";
  bad["id"] = "bad/1";
  bad["instance_number"] = 1;
  bad["memory"] = "lots";
  auto list = decode_service_pod_list(json{{"service_pods", json::array({full_pod(), bad})}});
  REQUIRE(list.has_value());
  REQUIRE(list->pods.size() == 1);
  CHECK(list->pods[0].key() == "5b6c0e/2");
  REQUIRE(list->invalid.size() == 1);
  CHECK(list->invalid[0].key == "bad/1");
  CHECK(list->invalid[0].failure.message.find("memory") != std::string::npos);

  auto empty = decode_service_pod_list(json{{"service_pods", json::array()}});
  REQUIRE(empty.has_value());
  CHECK(empty->pods.empty());

  CHECK_FALSE(decode_service_pod_list(json::array()).has_value());
  CHECK_FALSE(decode_service_pod_list(json{{"error", "Node not found"}}).has_value());
}

namespace {

// Every value of `doc` by JSON pointer: the keys of the pod and, inside arrays and objects,
// every element down to the leaves.
void collect_paths(const json& doc, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  if (doc.is_object()) {
    for (const auto& [key, value] : doc.items()) {
      out.push_back(at / key);
      collect_paths(value, at / key, out);
    }
  } else if (doc.is_array()) {
    for (std::size_t i = 0; i < doc.size(); ++i) {
      out.push_back(at / i);
      collect_paths(doc[i], at / i, out);
    }
  }
}

}  // namespace

// The fault matrix's "pod spec with every field of the wrong type" (docs/fault-matrix.md):
// generated from the master serializer's pod above, not listed by hand. Each value anywhere
// in the pod is replaced by each JSON type it does not have; the decoder must accept it (a
// null means "not set" and takes the default) or fail with pod_invalid naming the pod and
// the top-level key, never throw, and never echo the registry password.
TEST_CASE("service pod: every field of the wrong type, systematically - a clear failure or a default, never a throw") {
  const json pod = full_pod();
  std::vector<json::json_pointer> paths;
  collect_paths(pod, json::json_pointer(), paths);
  const std::vector<json> values{nullptr, true, -1, std::uint64_t{1} << 40U, 2.5, "s", "", json::array(),
                                 json::array({1}), json::object(), json{{"k", 1}}};
  std::size_t tried = 0;
  std::size_t refused = 0;
  for (const auto& path : paths) {
    const json& original = pod.at(path);
    for (const auto& value : values) {
      if (value == original) continue;
      json doc = pod;
      doc.at(path) = value;
      CAPTURE(path.to_string(), value.dump());
      ++tried;
      Result<ServicePod> decoded = fail(Errc::pod_invalid, "not decoded");
      REQUIRE_NOTHROW(decoded = decode_service_pod(doc));
      if (decoded) continue;
      ++refused;
      CHECK(decoded.error().is(Errc::pod_invalid));
      CHECK(decoded.error().message.find("failed to decode service pod '") == 0);
      const std::string top = path.to_string().substr(1, path.to_string().find('/', 1) - 1);
      CHECK(decoded.error().message.find(top) != std::string::npos);
      CHECK(decoded.error().message.find("\"p\"") == std::string::npos);
      CHECK(decoded.error().message.find("'p'") == std::string::npos);
    }
  }
  std::cerr << "measured: " << tried << " wrongly typed pod specs, " << refused << " refused with the key named\n";
  CHECK(refused > tried / 2);
}

// Pod -> Docker container: the name and the body of POST /containers/create
// (https://docs.docker.com/engine/api/v1.41/#operation/ContainerCreate), following
// kontena v1.5.4: agent/lib/kontena/models/service_pod.rb. No overlay network: Kontena's weave
// entrypoint rewrite (/w/w, weavewait volumes, Dns, IPAM labels) is deliberately absent, and
// no RestartPolicy is set because the node restarts crashed containers itself.
#pragma once

#include "core/error.hpp"
#include "runtime/service_pod.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace kn::runtime {

// The labels the node and the master find a pod's container by.
namespace label {
inline constexpr const char* container_type = "io.kontena.container.type";
inline constexpr const char* container_name = "io.kontena.container.name";
inline constexpr const char* container_pod = "io.kontena.container.pod";
inline constexpr const char* deploy_rev = "io.kontena.container.deploy_rev";
inline constexpr const char* service_revision = "io.kontena.container.service_revision";
inline constexpr const char* stop_grace_period = "io.kontena.container.stop_grace_period";
inline constexpr const char* service_id = "io.kontena.service.id";
inline constexpr const char* service_name = "io.kontena.service.name";
inline constexpr const char* instance_number = "io.kontena.service.instance_number";
inline constexpr const char* exposed = "io.kontena.service.exposed";
}  // namespace label

// "<service_name>-<n>", e.g. "stress.stress-1".
std::string container_name(const ServicePod& pod);

// "<service_name>-<n>-volumes": the stateful pod's data container.
std::string data_container_name(const ServicePod& pod);

// The pod's own labels plus the io.kontena.container.* / service.* labels of the create table.
std::map<std::string, std::string> container_labels(const ServicePod& pod);

// The Env array: the pod's env, then one NAME=VALUE per env secret name (same-name values
// joined by a newline; a secret without a value gives "NAME=").
std::vector<std::string> container_env(const ServicePod& pod);

// The create body. Errc::pod_invalid when the container could not be started as specified
// (an environment string over 128 KiB, which exec refuses).
Result<nlohmann::json> create_body(const ServicePod& pod);

// The create body of a stateful pod's data container: the pod's image, its anonymous volumes
// (`Volumes {path: {}}`), the pod's labels with io.kontena.container.type=volume. It is never
// started; the service container mounts its volumes with VolumesFrom, so they outlive every
// re-creation of the service container.
nlohmann::json data_container_body(const ServicePod& pod);

// "image:tag" with "latest" when the name has no tag (a port in the registry part is not a
// tag); digests ("name@sha256:...") are kept as they are.
std::string image_reference(std::string_view image_name);

}  // namespace kn::runtime

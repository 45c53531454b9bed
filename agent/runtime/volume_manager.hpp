// The node's named volumes, as the master places them (kontena v1.5.4:
// agent/lib/kontena/workers/volumes/volume_manager.rb; the master side is
// server/app/services/rpc/node_volume_handler.rb):
//   /node_volumes/list [node_id] -> {volumes: [{volume_id, volume_instance_id, name, driver, driver_opts}]}
// after node_info, every 30 s, and on /volumes/notify_update (a request, answered {} at once,
// or the notification ["remove"]). Each listed volume missing from Docker is created with its
// driver, options and the labels io.kontena.volume_instance.id / io.kontena.volume.id;
// labelled volumes no longer listed are removed (one still in use stays and is tried again on
// the next list); each present volume is reported once per connection with
//   /node_volumes/set_state [node_id, {name, volume_instance_id, volume_id}].
// An RPC error is never an empty list. Docker I/O runs on a thread of its own, never the loop's.
#pragma once

#include "core/error.hpp"
#include "runtime/runtime_service.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kn::docker {
class ContainerApi;
}

namespace kn::runtime {

namespace volume_label {
inline constexpr const char* instance_id = "io.kontena.volume_instance.id";
inline constexpr const char* volume_id = "io.kontena.volume.id";
}  // namespace volume_label

// One entry of /node_volumes/list.
struct NodeVolume {
  std::string volume_id;
  std::string volume_instance_id;
  std::string name;
  std::string driver = "local";
  nlohmann::json driver_opts = nlohmann::json::object();
  bool operator==(const NodeVolume&) const = default;
};

// The list reply; Errc::rpc_decode_failed naming the entry when it is not of that shape.
Result<std::vector<NodeVolume>> decode_node_volumes(const nlohmann::json& reply);

// The body of POST /volumes/create for `volume`.
nlohmann::json volume_create_body(const NodeVolume& volume);

// What one pass did on Docker: the listed volumes now present, the labelled ones removed, and
// what failed (logged; the next pass tries again).
struct VolumeSyncResult {
  std::vector<NodeVolume> present;
  std::vector<std::string> removed;
  std::vector<Failure> failures;
};

// Removes labelled volumes whose io.kontena.volume_instance.id is not listed, then creates
// each listed volume Docker does not have.
VolumeSyncResult sync_volumes(docker::ContainerApi& api, const std::vector<NodeVolume>& listed);

struct VolumeManagerOptions {
  std::chrono::milliseconds list_interval{30000};
};

class VolumeManager : public RuntimeService {
 public:
  explicit VolumeManager(RuntimeContext context, VolumeManagerOptions options = {});
  ~VolumeManager() override;

  std::set<std::string> methods() const override;
  void on_master_call(std::optional<std::uint32_t> request_id, const std::string& method, const nlohmann::json& params,
                      std::function<void(Result<nlohmann::json>)> reply) override;
  void on_online() override;
  void on_offline() override;
  void stop() override;

  // Passes finished (a list answered or failed, and its Docker work done): for tests and logs.
  std::size_t passes() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kn::runtime

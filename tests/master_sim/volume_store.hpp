// The master's Volume and VolumeInstance records (kontena v1.5.4: server/app/models/volume.rb,
// volume_instance.rb); the rules around them are in volumes.hpp.
#pragma once

#include "kontena_time.hpp"
#include "node_registry.hpp"

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kn::master_sim {

struct Volume {
  std::string id;  // ObjectId-like
  std::string grid, name;
  std::string scope;  // instance | stack | grid
  std::string driver;
  Json driver_opts = Json::object();
  SysTime created_at{};
};

struct VolumeInstance {
  std::string id;
  NodeKey node = 0;
  std::string volume_id;
  std::string name;  // the Docker volume's name on the node
};

class VolumeStore {
 public:
  Volume* find(const std::string& grid, const std::string& name);
  Volume* find_id(const std::string& id);
  std::vector<Volume*> of_grid(const std::string& grid);
  Volume* add(Volume volume);  // a fresh id
  // Volume#destroy (dependent: :destroy): the nodes that had an instance of it.
  std::vector<NodeKey> remove(const std::string& volume_id);

  std::vector<const VolumeInstance*> instances_on(NodeKey node) const;
  std::vector<const VolumeInstance*> instances_of(const std::string& volume_id) const;
  const VolumeInstance* instance(NodeKey node, const std::string& name) const;
  const VolumeInstance* instance_id(NodeKey node, const std::string& id) const;
  const VolumeInstance& add_instance(NodeKey node, const std::string& volume_id, const std::string& name);

 private:
  std::map<std::string, std::unique_ptr<Volume>> volumes_;
  std::deque<VolumeInstance> instances_;
};

}  // namespace kn::master_sim

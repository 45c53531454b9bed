#include "runtime/volume_manager.hpp"

#include "core/json_text.hpp"
#include "core/logging.hpp"
#include "docker/container_api.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include <set>
#include <utility>

namespace kn::runtime {
namespace {

using nlohmann::json;
namespace asio = boost::asio;

constexpr const char* kList = "/node_volumes/list";
constexpr const char* kSetState = "/node_volumes/set_state";
constexpr const char* kNotifyUpdate = "/volumes/notify_update";

std::shared_ptr<spdlog::logger> logger() { return log::get("volumes"); }

std::string text_of(const json& entry, const char* key) {
  auto it = entry.find(key);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<std::vector<NodeVolume>> decode_node_volumes(const json& reply) {
  if (!reply.is_object() || !reply.contains("volumes") || !reply["volumes"].is_array()) {
    return fail(Errc::rpc_decode_failed,
                "failed to read the master's /node_volumes/list answer: expected {volumes: [...]}, got " +
                    json_text(reply).substr(0, 200));
  }
  std::vector<NodeVolume> out;
  for (const auto& entry : reply["volumes"]) {
    NodeVolume v;
    if (entry.is_object()) {
      v.volume_id = text_of(entry, "volume_id");
      v.volume_instance_id = text_of(entry, "volume_instance_id");
      v.name = text_of(entry, "name");
      if (auto driver = text_of(entry, "driver"); !driver.empty()) v.driver = driver;
      if (auto opts = entry.find("driver_opts"); opts != entry.end() && opts->is_object()) v.driver_opts = *opts;
    }
    if (v.name.empty() || v.volume_instance_id.empty()) {
      return fail(Errc::rpc_decode_failed,
                  "failed to read the master's /node_volumes/list answer: an entry without name or "
                  "volume_instance_id: " +
                      json_text(entry).substr(0, 200));
    }
    out.push_back(std::move(v));
  }
  return out;
}

json volume_create_body(const NodeVolume& volume) {
  // Docker wants every DriverOpts value as a string; the master passes what the stack file said.
  json opts = json::object();
  for (const auto& [key, value] : volume.driver_opts.items()) {
    opts[key] = value.is_string() ? value.get<std::string>() : json_text(value);
  }
  return json{{"Name", volume.name},
              {"Driver", volume.driver},
              {"DriverOpts", opts},
              {"Labels",
               {{volume_label::instance_id, volume.volume_instance_id}, {volume_label::volume_id, volume.volume_id}}}};
}

VolumeSyncResult sync_volumes(docker::ContainerApi& api, const std::vector<NodeVolume>& listed) {
  VolumeSyncResult result;
  std::set<std::string> wanted;
  for (const auto& v : listed) wanted.insert(v.volume_instance_id);

  auto labelled = api.list_volumes({volume_label::instance_id});
  if (!labelled) {
    result.failures.push_back(labelled.error());
    return result;  // nothing is created or removed on a Docker that does not answer
  }
  for (const auto& doc : *labelled) {
    const std::string name = doc.value("Name", "");
    const auto labels = doc.value("Labels", json::object());
    const std::string instance = labels.is_object() ? text_of(labels, volume_label::instance_id) : std::string();
    if (name.empty() || wanted.contains(instance)) continue;
    if (auto removed = api.remove_volume(name); removed) {
      result.removed.push_back(name);
    } else {
      // In use (409) stays: a container still mounts it; the next list tries again.
      result.failures.push_back(removed.error());
    }
  }
  for (const auto& v : listed) {
    auto found = api.inspect_volume(v.name);
    if (!found && found.error().is(Errc::docker_not_found)) {
      auto made = api.create_volume(volume_create_body(v));
      if (!made) {
        result.failures.push_back(made.error());
        continue;
      }
      logger()->info("created volume {} (driver {})", v.name, v.driver);
    } else if (!found) {
      result.failures.push_back(found.error());
      continue;
    }
    result.present.push_back(v);
  }
  return result;
}

class VolumeManager::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(RuntimeContext context, VolumeManagerOptions options)
      : ctx_(std::move(context)), options_(options), timer_(ctx_.loop) {}

  void on_call(std::optional<std::uint32_t> request_id, const std::string& method,
               const std::function<void(Result<json>)>& reply) {
    if (method != kNotifyUpdate) {
      if (reply) reply(fail(Errc::usage, fmt::format("failed to serve {}: not a volume method", method)));
      return;
    }
    // The master waits for the answer only to know the node heard it: answer first, then list.
    if (request_id && reply) reply(json::object());
    request_list();
  }

  void online() {
    online_ = true;
    request_list();
    arm();
  }

  void offline() {
    online_ = false;
    timer_.cancel();
    reported_.clear();  // the next connection reports every volume again
  }

  std::size_t passes() const { return passes_; }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    timer_.cancel();
    pool_.stop();
    pool_.join();
  }

 private:
  std::weak_ptr<Impl> weak() { return weak_from_this(); }

  void arm() {
    timer_.expires_after(options_.list_interval);
    timer_.async_wait([w = weak()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped_ || !self->online_) return;
      self->request_list();
      self->arm();
    });
  }

  // One list at a time; a trigger during one runs another after it.
  void request_list() {
    if (stopped_ || !online_ || ctx_.master == nullptr) return;
    if (busy_) {
      again_ = true;
      return;
    }
    busy_ = true;
    ctx_.master->call(kList, json::array({ctx_.node_id}), [w = weak()](Result<json> reply) {
      auto self = w.lock();
      if (!self || self->stopped_) return;
      self->listed(reply);
    });
  }

  void listed(const Result<json>& reply) {
    // An error is never an empty list: nothing is removed on a failed answer.
    auto volumes = reply ? decode_node_volumes(*reply) : Result<std::vector<NodeVolume>>(reply.error());
    if (!volumes) {
      logger()->warn("failed to list this node's volumes: {}", volumes.error().message);
      done();
      return;
    }
    asio::post(pool_, [w = weak(), listed = std::move(*volumes)] {
      auto self = w.lock();
      if (!self) return;
      auto result = self->sync_on_docker(listed);
      asio::post(self->ctx_.loop, [w, result = std::move(result)] {
        auto me = w.lock();
        if (!me || me->stopped_) return;
        me->report(result);
        me->done();
      });
    });
  }

  // On the pool's thread.
  VolumeSyncResult sync_on_docker(const std::vector<NodeVolume>& listed) {
    if (!api_) {
      auto made = docker::ContainerApi::connect(ctx_.docker_host);
      if (!made) {
        VolumeSyncResult r;
        r.failures.push_back(made.error());
        return r;
      }
      api_.emplace(std::move(*made));
    }
    auto result = sync_volumes(*api_, listed);
    for (const auto& f : result.failures) {
      if (f.is(Errc::docker_unavailable)) api_.reset();  // reconnect (and renegotiate) next time
    }
    return result;
  }

  void report(const VolumeSyncResult& result) {
    for (const auto& name : result.removed) logger()->info("removed volume {}: the master no longer lists it", name);
    for (const auto& f : result.failures) logger()->warn("{}", f.message);
    if (!online_) return;
    for (const auto& v : result.present) {
      const auto key = v.name + "\n" + v.volume_instance_id;
      if (!reported_.insert(key).second) continue;
      json state{{"name", v.name}, {"volume_instance_id", v.volume_instance_id}, {"volume_id", v.volume_id}};
      ctx_.master->call(kSetState, json::array({ctx_.node_id, state}), [w = weak(), key](Result<json> r) {
        auto self = w.lock();
        if (!self || r) return;
        logger()->warn("failed to report volume {} to the master: {}", key.substr(0, key.find('\n')),
                       r.error().message);
        self->reported_.erase(key);  // told again after the next list
      });
    }
  }

  void done() {
    ++passes_;
    busy_ = false;
    if (again_) {
      again_ = false;
      request_list();
    }
  }

  RuntimeContext ctx_;
  VolumeManagerOptions options_;
  asio::steady_timer timer_;                  // loop
  bool online_ = false, busy_ = false, again_ = false, stopped_ = false;  // loop
  std::size_t passes_ = 0;                    // loop
  std::set<std::string> reported_;            // loop: "name\ninstance id" told to the master
  std::optional<docker::ContainerApi> api_;   // pool thread
  asio::thread_pool pool_{1};                 // Docker calls, one at a time
};

VolumeManager::VolumeManager(RuntimeContext context, VolumeManagerOptions options)
    : impl_(std::make_shared<Impl>(std::move(context), options)) {}

VolumeManager::~VolumeManager() { impl_->stop(); }

std::set<std::string> VolumeManager::methods() const { return {kNotifyUpdate}; }

void VolumeManager::on_master_call(std::optional<std::uint32_t> request_id, const std::string& method,
                                   const json& params, std::function<void(Result<json>)> reply) {
  (void)params;  // a request carries [[]], the notification ["remove"]: both mean "list again"
  impl_->on_call(request_id, method, reply);
}

void VolumeManager::on_online() { impl_->online(); }
void VolumeManager::on_offline() { impl_->offline(); }
void VolumeManager::stop() { impl_->stop(); }
std::size_t VolumeManager::passes() const { return impl_->passes(); }

}  // namespace kn::runtime

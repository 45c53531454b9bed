// How the runtime talks to the master: implemented by the command layer on the master link,
// and by tests with a recorder. Calls and callbacks happen on the loop the PodManager is given.
#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <utility>

namespace kn::runtime {

struct MasterPort {
  virtual ~MasterPort() = default;
  // A request; `done` runs exactly once with the result or a Failure (error reply, offline, timeout).
  virtual void call(std::string method, nlohmann::json params, std::function<void(Result<nlohmann::json>)> done) = 0;
  // A notification; dropped when offline.
  virtual void notify(std::string method, nlohmann::json params) = 0;
  // A notification whose `done` runs exactly once, on the loop: true once it was written to the
  // master's socket, false when it was dropped (offline, or the connection ended first). The
  // log streamer counts a line as sent only then. This default suits ports whose notify
  // delivers at once (test recorders); the master link overrides it.
  virtual void notify_written(std::string method, nlohmann::json params, std::function<void(bool written)> done) {
    notify(std::move(method), std::move(params));
    if (done) done(true);
  }
};

}  // namespace kn::runtime

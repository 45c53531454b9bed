// Service container logs to the master (kontena v1.5.4: agent/lib/kontena/workers/log_worker.rb
// does the same job): every running service container's stdout and stderr are followed with
// GET /containers/ID/logs?follow=1&timestamps=1 and sent as /containers/log_batch
// notifications of at most kMaxLogBatch lines.
//
// - A line counts as sent once its notification was written to the master's socket
//   (MasterPort::notify_written). Per container a cursor (last sent timestamp, lines sent at it)
//   is kept in <state_dir>/logs/<id>, written at most once a second and when the follower ends,
//   so a reconnect or an agent restart resumes at Docker's `since` without gap or repeat
//   (a SIGKILL may repeat up to the last second). The file goes when the container is destroyed.
//   Without a state_dir nothing is kept and a follower starts at the container's first line.
// - While offline nothing is sent and the cursor stays.
// - Backpressure: one batch in flight per container; while it waits, the container's log
//   stream is not read (Docker keeps the output in its log file).
// - Threads: one reader thread per followed container; it ends when the container stops, and on
//   stop() within about 100 ms (the stream is polled that often). One more thread checks
//   whether stopped containers still exist, to remove their cursor files.
#pragma once

#include "runtime/runtime_service.hpp"

#include <boost/asio/thread_pool.hpp>

#include <map>
#include <memory>
#include <string>

namespace kn::runtime {

class LogStreamer final : public RuntimeService, public std::enable_shared_from_this<LogStreamer> {
 public:
  explicit LogStreamer(RuntimeContext context);
  ~LogStreamer() override;
  LogStreamer(const LogStreamer&) = delete;
  LogStreamer& operator=(const LogStreamer&) = delete;

  void on_container_running(const ServiceContainer& container) override;
  void on_container_stopped(const std::string& container_id) override;
  void on_online() override;
  void on_offline() override;
  void stop() override;

  struct Follower;  // one followed container (log_streamer.cpp)

 private:
  struct Entry {
    std::shared_ptr<Follower> follower;
    std::optional<ServiceContainer> again;  // told running again while the last run drained
  };
  void start_follower(const ServiceContainer& container);
  void follower_ended(const std::string& id, const std::shared_ptr<Follower>& follower);
  // On the janitor thread: the cursor file goes when Docker no longer has the container.
  void forget_later(const std::string& id);

  RuntimeContext context_;
  bool online_ = false;
  bool stopped_ = false;
  std::map<std::string, Entry> entries_;  // by container id; loop only
  boost::asio::thread_pool janitor_{1};
};

}  // namespace kn::runtime

#include "runtime/log_streamer.hpp"

#include "core/logging.hpp"
#include "docker/container_api.hpp"
#include "docker/log_stream.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/log_cursor.hpp"
#include "runtime/log_line.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace kn::runtime {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> logger() { return log::get("runtime"); }

constexpr auto kCursorSaveInterval = std::chrono::seconds(1);
constexpr auto kRetryAfterDrop = std::chrono::milliseconds(100);

std::string label_of(const json& inspect, const char* key, std::string fallback) {
  const auto* labels = inspect.contains("Config") && inspect["Config"].is_object() && inspect["Config"].contains("Labels")
                           ? &inspect["Config"]["Labels"]
                           : nullptr;
  if (labels == nullptr || !labels->is_object() || !labels->contains(key) || !(*labels)[key].is_string()) {
    return fallback;
  }
  return (*labels)[key].get<std::string>();
}

// The cursor file goes when Docker answers that the container is gone (any other answer keeps it).
void forget_cursor_if_gone(const std::string& docker_host, const std::filesystem::path& state_dir,
                           const std::string& id) {
  auto api = docker::ContainerApi::connect(docker_host);
  if (!api) return;
  auto doc = api->inspect(id);
  if (doc || !doc.error().is(Errc::docker_not_found)) return;
  std::error_code ec;
  if (std::filesystem::remove(cursor_path(state_dir, id), ec)) {
    logger()->debug("removed the log cursor of destroyed container {}", id.substr(0, 12));
  }
}

}  // namespace

// One followed container. The loop owns it through LogStreamer::entries_; the reader thread
// and the notify_written callbacks share it through shared_ptr.
struct LogStreamer::Follower : std::enable_shared_from_this<Follower> {
  // Fixed before the thread starts.
  RuntimeContext context;
  std::string id;
  bool tty = false;
  LogLine templ;  // id, service, stack, instance
  std::filesystem::path cursor_file;

  std::atomic<bool> stopping{false};
  http::StreamInterrupt stream_stop;  // ends the Docker stream at once
  std::thread thread;

  std::mutex mutex;
  std::condition_variable wake;
  bool online = false;                 // guarded by mutex
  std::optional<bool> written;         // guarded by mutex: the outcome of the batch in flight

  void set_online(bool value) {
    {
      std::lock_guard lock(mutex);
      online = value;
    }
    wake.notify_all();
  }
  void request_stop() {
    stopping = true;
    stream_stop.interrupt();
    std::lock_guard lock(mutex);  // so a waiter cannot miss the flag between its check and its wait
    wake.notify_all();
  }

  void run();

 private:
  // Sends `batch` and waits until it was written to the master's socket (retrying after a drop,
  // once online again). False when stopping first.
  bool send(std::vector<LogLine>& batch, std::vector<std::chrono::system_clock::time_point>& times);
  void save(bool force);

  LogCursor cursor_;
  LogCursor saved_;
  Clock::time_point saved_at_{};
};

void LogStreamer::Follower::save(bool force) {
  if (cursor_ == saved_ || cursor_file.empty()) return;
  if (!force && Clock::now() - saved_at_ < kCursorSaveInterval) return;
  if (auto st = save_cursor(cursor_file, cursor_); !st) {
    logger()->warn("{}", st.error().message);
    return;
  }
  saved_ = cursor_;
  saved_at_ = Clock::now();
}

bool LogStreamer::Follower::send(std::vector<LogLine>& batch, std::vector<std::chrono::system_clock::time_point>& times) {
  json lines = json::array();
  for (const auto& line : batch) lines.push_back(line.to_json());
  const json params = json::array({std::move(lines)});
  for (;;) {
    std::unique_lock lock(mutex);
    wake.wait(lock, [&] { return online || stopping.load(); });
    if (stopping) return false;
    written.reset();
    lock.unlock();
    asio::post(context.loop, [self = shared_from_this(), params]() mutable {
      self->context.master->notify_written(kLogBatch, std::move(params), [self](bool ok) {
        {
          std::lock_guard guard(self->mutex);
          self->written = ok;
        }
        self->wake.notify_all();
      });
    });
    lock.lock();
    wake.wait(lock, [&] { return written.has_value() || stopping.load(); });
    if (written.value_or(false)) {
      lock.unlock();
      for (const auto& t : times) cursor_.advance(t);
      batch.clear();
      times.clear();
      save(false);
      return !stopping;
    }
    if (stopping) return false;
    // Dropped: the link went down. Sent again once online (a short pause in case the loop has
    // not told us yet).
    wake.wait_for(lock, kRetryAfterDrop, [&] { return stopping.load(); });
  }
}

void LogStreamer::Follower::run() {
  auto loaded = cursor_file.empty() ? Result<LogCursor>(LogCursor{}) : load_cursor(cursor_file);
  if (!loaded) logger()->warn("{}", loaded.error().message);
  cursor_ = loaded ? *loaded : LogCursor{};
  saved_ = cursor_;
  ResumeFilter filter(cursor_);
  docker::LogDemuxer demux(tty);
  std::vector<LogLine> batch;
  std::vector<std::chrono::system_clock::time_point> times;
  batch.reserve(kMaxLogBatch);
  bool warned = false;

  auto status = docker::follow_logs(
      context.docker_host, id, cursor_.time,
      [&](std::string_view chunk) {
        demux.feed(chunk, [&](docker::LogStream stream, std::string_view raw) {
          if (stopping) return;
          auto line = docker::split_timestamp(raw);
          if (!line) {
            if (!warned) logger()->warn("skipping log output of container {} without a Docker timestamp", id.substr(0, 12));
            warned = true;
            return;
          }
          if (filter.already_sent(line->time)) return;
          LogLine out = templ;
          out.time = rfc3339_nanos(line->time);
          out.type = docker::to_string(stream);
          out.data = std::string(line->text);
          batch.push_back(std::move(out));
          times.push_back(line->time);
          if (batch.size() == kMaxLogBatch) send(batch, times);
        });
        // What this piece completed goes now, not when ten lines have gathered.
        if (!batch.empty() && !stopping) send(batch, times);
        // A quiet container: its last lines reach the file within about a second anyway.
        if (chunk.empty()) save(false);
        return !stopping.load();
      },
      stream_stop);
  // A container removed meanwhile is not a problem worth a warning.
  if (!status && !status.error().is(Errc::docker_not_found) && !status.error().is(Errc::docker_conflict)) {
    logger()->warn("{}", status.error().message);
  }
  save(true);
}

LogStreamer::LogStreamer(RuntimeContext context) : context_(std::move(context)) {
  if (context_.state_dir.empty()) return;  // no cursors kept (a resume starts at the first line)
  // Cursors of containers removed while the agent was down.
  asio::post(janitor_, [host = context_.docker_host, dir = context_.state_dir] {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "logs", ec)) {
      forget_cursor_if_gone(host, dir, entry.path().filename().string());
    }
  });
}

LogStreamer::~LogStreamer() { stop(); }

void LogStreamer::on_container_running(const ServiceContainer& container) {
  if (stopped_) return;
  auto it = entries_.find(container.id);
  if (it == entries_.end()) {
    start_follower(container);
    return;
  }
  // Already followed (told again by a rescan or another event), or its last run's stream is
  // still draining: once that stream ends, a new one resumes at the cursor (for a container
  // that is in fact stopped it ends at once).
  it->second.again = container;
}

void LogStreamer::start_follower(const ServiceContainer& c) {
  auto f = std::make_shared<Follower>();
  f->context = context_;
  f->id = c.id;
  f->tty = c.inspect.contains("Config") && c.inspect["Config"].is_object() && c.inspect["Config"].value("Tty", false);
  f->templ.id = c.id;
  f->templ.service = label_of(c.inspect, label::service_name, "");
  f->templ.stack = label_of(c.inspect, "io.kontena.stack.name", "null");
  f->templ.instance = c.instance_number;
  if (!context_.state_dir.empty()) f->cursor_file = cursor_path(context_.state_dir, c.id);
  f->online = online_;
  entries_[c.id] = Entry{f, std::nullopt};
  f->thread = std::thread([f, w = weak_from_this()] {
    f->run();
    asio::post(f->context.loop, [f, w] {
      if (auto s = w.lock()) s->follower_ended(f->id, f);
    });
  });
}

void LogStreamer::follower_ended(const std::string& id, const std::shared_ptr<Follower>& follower) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.follower != follower || stopped_) return;
  if (follower->thread.joinable()) follower->thread.join();
  auto again = std::move(it->second.again);
  entries_.erase(it);
  if (again) {
    start_follower(*again);
    return;
  }
  forget_later(id);
}

void LogStreamer::forget_later(const std::string& id) {
  if (context_.state_dir.empty()) return;
  asio::post(janitor_, [host = context_.docker_host, dir = context_.state_dir, id] {
    forget_cursor_if_gone(host, dir, id);
  });
}

void LogStreamer::on_container_stopped(const std::string& id) {
  if (stopped_) return;
  // A followed container's stream ends by itself once Docker has sent its last lines; the
  // end checks whether the container is gone. Otherwise (a destroy after the die) check now.
  if (!entries_.contains(id)) forget_later(id);
}

void LogStreamer::on_online() {
  online_ = true;
  for (auto& [id, e] : entries_) e.follower->set_online(true);
}

void LogStreamer::on_offline() {
  online_ = false;
  for (auto& [id, e] : entries_) e.follower->set_online(false);
}

void LogStreamer::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [id, e] : entries_) e.follower->request_stop();
  for (auto& [id, e] : entries_) {
    if (e.follower->thread.joinable()) e.follower->thread.join();
  }
  entries_.clear();
  janitor_.stop();
  janitor_.join();
}

}  // namespace kn::runtime

// Files holding secrets are created 0600 and never world-readable, not even for an instant
// (issue 14 item 5): core/atomic_file.hpp writes a mkstemp(3) file, which is created 0600
// whatever the umask, and renames it into place only after fchmod. An inotify watch sees the
// temporary file appear and reads its mode while the (large) content is still being written.
#include "core/atomic_file.hpp"
#include "support/catch_result.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace kn;

namespace {

// Restores the process umask on scope exit.
struct UmaskGuard {
  explicit UmaskGuard(mode_t mask) : old(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old); }
  mode_t old;
};

// Watches a directory; for each created file, stat()s it at once and keeps its mode.
class CreationWatch {
 public:
  explicit CreationWatch(const std::filesystem::path& dir) : dir_(dir), fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(::inotify_add_watch(fd_, dir.c_str(), IN_CREATE) >= 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~CreationWatch() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  CreationWatch(const CreationWatch&) = delete;
  CreationWatch& operator=(const CreationWatch&) = delete;

  std::vector<std::pair<std::string, mode_t>> seen() {
    const std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void loop() {
    alignas(inotify_event) char buf[4096];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const auto n = ::read(fd_, buf, sizeof buf);
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        if (ev->len > 0) {
          struct stat st {};
          const auto path = dir_ / ev->name;
          if (::stat(path.c_str(), &st) == 0) {
            const std::lock_guard lock(mutex_);
            seen_.emplace_back(ev->name, st.st_mode & 07777);
          }
        }
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
  }

  std::filesystem::path dir_;
  int fd_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::pair<std::string, mode_t>> seen_;
  std::thread thread_;
};

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("secret files: an atomically written 0600 file is never readable by others, even with umask 0",
          "[security]") {
  test::TempDir dir;
  const UmaskGuard umask0(0);
  // 32 MiB keeps the temporary file in place long enough for the watch to stat it.
  const std::string content = "KONTENA_TOKEN=\"" + std::string(32U << 20U, 'x') + "\"\n";
  std::vector<std::pair<std::string, mode_t>> seen;
  {
    CreationWatch watch(dir.path());
    REQUIRE(write_file_atomically(dir / "agent.env", content, FileOwnership{.mode = 0600}).has_value());
    REQUIRE(test::wait_until([&] { return !watch.seen().empty(); }, std::chrono::seconds(5)));
    seen = watch.seen();
  }
  CHECK(mode_of(dir / "agent.env") == 0600);
  for (const auto& [name, mode] : seen) {
    INFO(name << " was created with mode " << std::oct << mode);
    CHECK((mode & 0077) == 0);
  }
}

TEST_CASE("secret files: replacing a world-readable file with a secret one never shows the secret to others",
          "[security]") {
  test::TempDir dir;
  const UmaskGuard umask0(0);
  REQUIRE(write_file_atomically(dir / "user-data", "public\n", FileOwnership{.mode = 0644}).has_value());
  REQUIRE(mode_of(dir / "user-data") == 0644);
  REQUIRE(write_file_atomically(dir / "user-data", "token\n", FileOwnership{.mode = 0600}).has_value());
  // A new inode: readers holding the old 0644 file see the old content, never the token.
  CHECK(mode_of(dir / "user-data") == 0600);
  CHECK(test::read_text(dir / "user-data") == "token\n");
}

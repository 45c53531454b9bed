#include "core/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace kn {
namespace {

Failure io_failure(std::string_view what, const std::filesystem::path& path, int err) {
  return fail(Errc::file_io, "failed to " + std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

Status write_file_atomically(const std::filesystem::path& link_or_file, std::string_view content,
                             std::optional<FileOwnership> ownership) {
  // A symlink (e.g. /etc/docker/daemon.json kept in a configuration repository) stays a
  // symlink: renaming over it would replace the link with a file and leave the file it names
  // stale, so the file it resolves to is the one replaced.
  std::error_code ec;
  std::filesystem::path path = link_or_file;
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(link_or_file, ec))) {
    path = std::filesystem::weakly_canonical(link_or_file, ec);
    if (ec) return io_failure("resolve symlink", link_or_file, ec.value());
  }
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_failure("create directory", dir, ec.value());

  FileOwnership own;
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) {
    own.mode = existing.st_mode & 07777;
    own.uid = existing.st_uid;
    own.gid = existing.st_gid;
  }
  if (ownership) {
    own.mode = ownership->mode;
    if (ownership->uid) own.uid = ownership->uid;
    if (ownership->gid) own.gid = ownership->gid;
  }

  // Until the rename the target is untouched: the message names it and says so (a full or
  // read-only /run or /etc is the usual cause), rather than only the temp file's name.
  auto unchanged_fail = [&](std::string_view what, const std::filesystem::path& p, int err) {
    return fail(Errc::file_io, "failed to write " + path.string() + " (left as it was): cannot " + std::string(what) +
                                   " " + p.string() + ": " + std::strerror(err));
  };
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  Fd fd(::mkstemp(tmpl.data()));
  if (fd.get() < 0) return unchanged_fail("create a temporary file in", dir, errno);
  const std::filesystem::path tmp(tmpl);
  auto cleanup_fail = [&](std::string_view what, const std::filesystem::path& p, int err) {
    const Failure f = unchanged_fail(what, p, err);
    ::unlink(tmp.c_str());
    return f;
  };

  std::string_view rest = content;
  while (!rest.empty()) {
    const auto n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return cleanup_fail("write", tmp, errno);
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fchmod(fd.get(), own.mode) != 0) return cleanup_fail("set mode of", tmp, errno);
  if ((own.uid || own.gid) && ::fchown(fd.get(), own.uid.value_or(static_cast<uid_t>(-1)),
                                       own.gid.value_or(static_cast<gid_t>(-1))) != 0) {
    // Only root can give a file away; keeping the writer as owner beats failing.
    if (errno != EPERM) return cleanup_fail("set owner of", tmp, errno);
  }
  if (::fsync(fd.get()) != 0) return cleanup_fail("sync", tmp, errno);
  if (::close(fd.release()) != 0) return cleanup_fail("close", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return cleanup_fail("replace", path, errno);

  // The rename is durable only once the directory entry is on disk.
  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd.get() < 0 || ::fsync(dirfd.get()) != 0) return io_failure("sync directory", dir, errno);
  return {};
}

Result<std::optional<std::string>> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return io_failure("read", path, errno);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_failure("read", path, errno);
  return std::optional<std::string>{ss.str()};
}

Result<std::string> read_token_file(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) return fail(Errc::config_invalid, text.error().message);
  if (!*text) return fail(Errc::config_invalid, "no such file (fix the path)");
  std::string token = std::move(**text);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return fail(Errc::config_invalid, "it is empty");
  if (token.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return fail(Errc::config_invalid, "it holds more than one line or a NUL byte");
  }
  return token;
}

std::filesystem::path under_root(const std::filesystem::path& root, const std::filesystem::path& path) {
  if (root.empty() || root == "/") return path;
  return root / path.relative_path();
}

}  // namespace kn

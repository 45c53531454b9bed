// Replaces a file so that readers see either the old or the new content, never a torn one,
// and a crash at any point leaves one of the two on disk: write a temp file in the same
// directory, fsync it, rename it over the target, fsync the directory.
#pragma once

#include "core/error.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace kn {

struct FileOwnership {
  mode_t mode = 0644;
  std::optional<uid_t> uid;  // unset: the writer's
  std::optional<gid_t> gid;
};

// Writes `content` to `path`. When the file exists its mode and owner are kept unless
// `ownership` says otherwise; missing parent directories are created (0755). A `path` that is
// a symlink stays one: the file it resolves to is replaced.
Status write_file_atomically(const std::filesystem::path& path, std::string_view content,
                             std::optional<FileOwnership> ownership = std::nullopt);

// Reads a whole file. A missing file is an empty optional, not an error.
Result<std::optional<std::string>> read_file(const std::filesystem::path& path);

// A one-line secret file (grid token, node token): the line without its line ending.
// Errc::config_invalid naming why ("no such file (fix the path)", "it is empty", "it holds more
// than one line"); callers add which file it is. The content never appears in a message.
Result<std::string> read_token_file(const std::filesystem::path& path);

// `path` inside `root` (kontena-bootstrap --root: image builds and tests): /run/x under /tmp/r
// is /tmp/r/run/x; under "/" (or an empty root) it is /run/x.
std::filesystem::path under_root(const std::filesystem::path& root, const std::filesystem::path& path);

}  // namespace kn

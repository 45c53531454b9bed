// A tiny image built offline for container tests: a root filesystem holding only
// busybox-static as /usr/bin/busybox and applet links in /bin (sh, sleep, true, false, echo,
// cat, httpd, nc), imported into a test dockerd and, when needed, pushed to a test registry.
// Throws std::runtime_error on failure: a broken fixture is a broken test.
#pragma once

#include "docker/container_api.hpp"
#include "support/dockerd.hpp"

#include <filesystem>
#include <optional>
#include <string_view>

namespace kn::test {

// The busybox applets linked in /bin of the image.
inline constexpr const char* kBusyboxApplets[] = {"sh", "sleep", "true", "false", "echo", "cat", "httpd", "nc"};

// True when /bin/busybox (Debian busybox-static) and tar exist.
bool busybox_image_available();

// Writes the root filesystem as an uncompressed tar to `tar_file`.
void write_busybox_rootfs_tar(const std::filesystem::path& tar_file);

// Imports that root filesystem into `dockerd` as `reference` ("name" or "name:tag", e.g.
// "127.0.0.1:5000/kn/busybox:1") with POST /images/create?fromSrc=-. The image has no
// configuration of its own: containers give Cmd; dockerd's default PATH finds /bin.
void import_busybox_image(const Dockerd& dockerd, std::string_view reference);

// Pushes `reference` from `dockerd` to the registry its name starts with
// (POST /images/NAME/push with X-Registry-Auth).
void push_image(const Dockerd& dockerd, std::string_view reference,
                const std::optional<docker::RegistryAuth>& auth = std::nullopt);

}  // namespace kn::test

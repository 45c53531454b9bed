// Docker image references as the pull endpoint and registry authentication need them:
// repository, tag or digest, and the registry host. The rules are those of the reference
// grammar of github.com/distribution/reference (reference.go, normalize.go).
#pragma once

#include "core/error.hpp"

#include <string>
#include <string_view>

namespace kn::docker {

struct ImageRef {
  std::string name;    // repository as given: "redis", "127.0.0.1:5000/kn/busybox"
  std::string tag;     // "latest" when the reference names neither tag nor digest
  std::string digest;  // "sha256:...", or empty; a digest wins over a tag
  // The fromImage/tag pair of POST /images/create: the tag, or the digest.
  const std::string& tag_or_digest() const { return digest.empty() ? tag : digest; }
};

// Errc::config_invalid for an empty reference or one with whitespace or control characters
// (dockerd checks the rest and answers with its own message).
Result<ImageRef> parse_image_ref(std::string_view reference);

// The registry a repository lives in: its first path part when that looks like a host (holds
// '.' or ':', or is "localhost"), otherwise Docker Hub, "index.docker.io".
std::string registry_host_of(std::string_view repository);

}  // namespace kn::docker

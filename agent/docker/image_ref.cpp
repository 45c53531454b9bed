#include "docker/image_ref.hpp"

#include <algorithm>

namespace kn::docker {

Result<ImageRef> parse_image_ref(std::string_view reference) {
  const bool printable = std::ranges::all_of(reference, [](unsigned char c) { return c > ' ' && c != 0x7f; });
  if (reference.empty() || !printable) {
    return fail(Errc::config_invalid, "invalid image reference '" + std::string(reference) +
                                          "': it must be non-empty, without spaces, e.g. redis:7 or "
                                          "registry.example.com/team/app@sha256:...");
  }
  ImageRef ref;
  std::string_view rest = reference;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' starts the tag; one before it belongs to a registry host:port.
  const auto colon = rest.rfind(':');
  const auto slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  } else if (ref.digest.empty()) {
    ref.tag = "latest";
  }
  ref.name = std::string(rest);
  return ref;
}

std::string registry_host_of(std::string_view repository) {
  const auto slash = repository.find('/');
  if (slash != std::string_view::npos) {
    const auto first = repository.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") return std::string(first);
  }
  return "index.docker.io";
}

}  // namespace kn::docker

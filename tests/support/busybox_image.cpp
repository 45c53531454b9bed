#include "support/busybox_image.hpp"

#include "docker/image_ref.hpp"
#include "http/curl_transport.hpp"

#include <unistd.h>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

#include <stdexcept>

namespace kn::test {
namespace {

constexpr const char* kBusybox = "/bin/busybox";
constexpr const char* kTar = "/usr/bin/tar";

// An Engine API URL on the dockerd socket (API 1.41: docker.io 20.10).
std::string engine_url(std::string_view path,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> query) {
  boost::urls::url url("http://localhost");
  url.set_path("/v1.41" + std::string(path));
  for (const auto& [key, value] : query) {
    url.encoded_params().append({key, boost::urls::encode(value, boost::urls::unreserved_chars)});
  }
  return std::string(url.buffer());
}

// Import and push answer 200 and then report errors inside their JSON-lines progress.
void check_progress(std::string_view what, const Result<http::Response>& r) {
  if (!r) throw std::runtime_error(std::string(what) + " failed: " + r.error().message);
  if (r->status != 200 || r->body.find("\"error\"") != std::string::npos) {
    throw std::runtime_error(std::string(what) + " failed: HTTP " + std::to_string(r->status) + " " + r->body);
  }
}

}  // namespace

bool busybox_image_available() { return ::access(kBusybox, X_OK) == 0 && ::access(kTar, X_OK) == 0; }

void write_busybox_rootfs_tar(const std::filesystem::path& tar_file) {
  TempDir root;
  namespace fs = std::filesystem;
  fs::create_directories(root / "usr/bin");
  fs::create_directories(root / "bin");
  fs::create_directories(root / "tmp");
  fs::create_directories(root / "etc");
  fs::copy_file(kBusybox, root / "usr/bin/busybox");
  fs::permissions(root / "usr/bin/busybox", fs::perms(0755));
  // busybox picks the applet from argv[0], so a symlink per applet is the whole install.
  for (const char* applet : kBusyboxApplets) fs::create_symlink("/usr/bin/busybox", root / "bin" / applet);
  auto made = run(
      {kTar, "--numeric-owner", "--owner=0", "--group=0", "-C", root.path().string(), "-cf", tar_file.string(), "."});
  if (made.exit_code != 0) throw std::runtime_error("tar failed: " + made.err);
}

void import_busybox_image(const Dockerd& dockerd, std::string_view reference) {
  TempDir dir;
  write_busybox_rootfs_tar(dir / "rootfs.tar");
  const auto ref = docker::parse_image_ref(reference).value();
  http::Request req;
  req.method = "POST";
  req.url = engine_url("/images/create", {{"fromSrc", "-"}, {"repo", ref.name}, {"tag", ref.tag}});
  req.unix_socket = dockerd.socket().string();
  req.headers.emplace_back("Content-Type", "application/x-tar");
  req.body = read_text(dir / "rootfs.tar");
  req.timeout = std::chrono::seconds(60);
  http::CurlTransport transport;
  check_progress("importing " + std::string(reference), transport.perform(req));
}

void push_image(const Dockerd& dockerd, std::string_view reference, const std::optional<docker::RegistryAuth>& auth) {
  const auto ref = docker::parse_image_ref(reference).value();
  http::Request req;
  req.method = "POST";
  // The engine routes /images/{name}/push with slashes in the name.
  req.url = engine_url("/images/" + ref.name + "/push", {{"tag", ref.tag}});
  req.unix_socket = dockerd.socket().string();
  // dockerd requires the header even for a registry without authentication.
  req.headers.emplace_back("X-Registry-Auth",
                           docker::encode_registry_auth(auth.value_or(docker::RegistryAuth{}), ref.name));
  req.timeout = std::chrono::seconds(60);
  http::CurlTransport transport;
  check_progress("pushing " + std::string(reference), transport.perform(req));
}

}  // namespace kn::test

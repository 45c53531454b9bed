// EC2 user-data from render values: what to install (files and units) and its two
// encodings, Container Linux cloud-config (coreos-cloudinit) and Ignition spec 3.3.0 JSON.
//
// Facts (https://coreos.github.io/ignition/configuration-v3_3/, https://github.com/coreos/coreos-cloudinit/blob/master/Documentation/cloud-config.md):
// - cloud-config: first line exactly "#cloud-config"; underscore keys only (Flatcar >= 3975.2.0
//   ignores hyphenated ones such as drop-ins); write_files permissions are strings; gzip'd
//   user-data is accepted.
// - Ignition 3.3.0: file modes are decimal, contents are data: URLs (RFC 2397), unit names need
//   a suffix; gzip'd user-data is not read on AWS, so an oversized config is refused.
// - EC2 user-data is limited to 16 KB before base64:
//   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html
#pragma once

#include "bootstrap/values_file.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace kn::bootstrap {

inline constexpr std::size_t kUserDataLimit = 16 * 1024;

// Where the installed configuration lives on the instance (README.md "Files written").
inline constexpr std::string_view kAgentEnvPath = "/etc/kontena/agent.env";
inline constexpr std::string_view kAgentConfigPath = "/etc/kontena/agent.yml";
inline constexpr std::string_view kTemplatesPath = "/etc/kontena/templates";
// Where each way of installing the artifact puts it (README.md "Installing kontena-node").
inline constexpr std::string_view kSysextImagePath = "/etc/extensions/kontena-node.raw";
inline constexpr std::string_view kOptBinDir = "/opt/kontena-node/bin/";
inline constexpr std::string_view kInstallUnitName = "kontena-node-install.service";

struct PayloadFile {
  std::string path;
  std::string content;
  unsigned mode = 0644;
  std::string source;  // Ignition only: fetched from this URL instead of content...
  std::string sha512;  // ...and checked against this hash (hex)
};

struct PayloadDropIn {
  std::string name;  // "10-sysext.conf"
  std::string content;
};

struct PayloadUnit {
  std::string name;
  std::string content;
  std::vector<PayloadDropIn> dropins;
};

struct Payload {
  std::vector<PayloadFile> files;
  std::vector<PayloadUnit> units;  // enabled and started, in order
};

enum class Format { cloud_config, ignition };

// agent.env (URL and token, 0600), agent.yml (labels, ephemeral, compat, start/restart units,
// 0644), the templates (0644) and the shipped units, embedded verbatim; plus what installs the
// artifact (values.artifact, required): Ignition fetches the sysext image into
// /etc/extensions and the units wait for systemd-sysext.service; cloud-config gets
// kontena-node-install.service (tarball into /opt/kontena-node) and the units run from there;
// baked: nothing more. Errc::config_invalid names the key when the artifact does not fit the
// format.
Result<Payload> build_payload(const Values& values, Format format);

std::string render_cloud_config(const Payload& payload);
std::string render_ignition(const Payload& payload);

// RFC 2397 data URL with the text percent-encoded (unreserved characters and /:=,@ kept).
std::string data_url(std::string_view content);

// gzip (RFC 1952) with a zero timestamp, so the output is reproducible.
std::string gzip(std::string_view data);

struct UserData {
  std::string bytes;
  bool gzipped = false;
  std::size_t plain_size = 0;
};

// Encodes and enforces the 16 KB limit: cloud-config is gzipped when over it; Ignition is
// refused with the fix (Errc::config_invalid).
Result<UserData> make_user_data(const Payload& payload, Format format);

}  // namespace kn::bootstrap

// The values file of `kontena-bootstrap render`: the few facts an ASG's user-data needs.
//
//   url: https://master.example.com     # Kontena master (required)
//   token_file: grid-token              # or `token: ...`; exactly one; read at render time
//   node_labels: [disk=ssd, team=web]   # extra labels (list or "k=v k=v")
//   ephemeral: true                     # optional; default of the agent: true
//   compat: coreos                      # optional: none|afterburn|coreos|all (metadata.env names)
//   templates:                          # unit templates for /etc/kontena/templates
//     - file: templates/efs.mount       # relative paths are relative to the values file
//       name: efs.mount                 # optional: default the file name; a drop-in is
//                                       #   <unit>.d/<name>.conf
//       command: start                  # optional: start | restart (at every boot)
//   artifact:                           # how the instance gets the binaries (render needs it):
//     url: https://.../kontena-node-VERSION-x86-64.raw   # Ignition: the sysext image;
//                                       #   cloud-config: kontena-node-VERSION-x86_64.tar.gz
//     sha512: <128 hex digits>          # of the file at url, checked on the instance
//   # or  artifact: {baked: true}       # the AMI already has /usr/bin/kontena-*
//
// Every error is Errc::config_invalid or Errc::template_invalid (exit 78) and names the file
// and the key. The token is never part of a message.
#pragma once

#include "core/error.hpp"
#include "core/labels.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kn::bootstrap {

struct TemplateFile {
  std::string name;     // "efs.mount" or "docker.service.d/10-az.conf"
  std::string text;     // the template as written (variables unrendered)
  std::string command;  // "", "start" or "restart"
};

// Where the instance gets kontena-node from (values key `artifact`).
struct Artifact {
  bool baked = false;  // the AMI has /usr/bin/kontena-*: nothing is fetched
  std::string url;     // https:, s3:, data:, or http: on loopback (a config applied off-instance)
  std::string sha512;  // lowercase hex of the file at url
};

struct Values {
  std::filesystem::path source;
  std::string url;
  std::string token;  // secret
  LabelSet labels;
  std::optional<bool> ephemeral;
  std::string compat;  // empty: not set
  std::vector<TemplateFile> templates;
  std::optional<Artifact> artifact;  // unset: render refuses (a stock AMI has no binaries)
};

Result<Values> load_values_file(const std::filesystem::path& path);

}  // namespace kn::bootstrap

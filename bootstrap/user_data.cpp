#include "bootstrap/user_data.hpp"

#include "embedded_units.hpp"
#include "bootstrap/unit_escape.hpp"

#include <fmt/format.h>
#include <boost/url/encode.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace kn::bootstrap {
namespace {

std::string join_units(const Values& values, std::string_view command) {
  std::string out;
  for (const auto& t : values.templates) {
    if (t.command == command) out += (out.empty() ? "" : " ") + t.name;
  }
  return out;
}

std::string agent_env(const Values& values) {
  return "# Written by kontena-bootstrap render: the Kontena master and grid token for kontena-agent.\n"
         "KONTENA_URL=" + quote_env_file_value(values.url) + "\n" +
         "KONTENA_TOKEN=" + quote_env_file_value(values.token) + "\n";
}

// agent.yml: settings both binaries read (keys of the option table, see --print-config).
std::string agent_yml(const Values& values) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (!values.labels.empty()) {
    out << YAML::Key << "node-labels" << YAML::Value << YAML::DoubleQuoted
        << fmt::format("{}", fmt::join(values.labels.strings(), " "));
  }
  if (values.ephemeral) out << YAML::Key << "ephemeral" << YAML::Value << (*values.ephemeral ? "true" : "false");
  if (!values.compat.empty()) out << YAML::Key << "metadata-compat" << YAML::Value << values.compat;
  if (auto start = join_units(values, "start"); !start.empty()) {
    out << YAML::Key << "start-units" << YAML::Value << YAML::DoubleQuoted << start;
  }
  if (auto restart = join_units(values, "restart"); !restart.empty()) {
    out << YAML::Key << "restart-units" << YAML::Value << YAML::DoubleQuoted << restart;
  }
  out << YAML::EndMap;
  std::string body = out.size() > 0 && std::string_view(out.c_str()) != "{}" ? std::string(out.c_str()) + "\n" : "";
  return "# Written by kontena-bootstrap render; settings as in `kontena-agent --print-config`.\n" + body;
}

// A YAML literal block (|) keeps the text readable, but it cannot carry every text: the first
// line sets the block's indentation (so it must not start with a space), "clip" chomping keeps
// exactly one final newline, and control characters need escapes (YAML 1.2 section 8.1.1).
// Any other text goes in as a double-quoted scalar, which represents every string.
bool literal_block_safe(std::string_view text) {
  if (text.empty() || !text.ends_with('\n') || text.ends_with("\n\n")) return false;
  if (text.front() == ' ' || text.front() == '\t' || text.front() == '\n') return false;
  bool line_start = true;
  bool blank_so_far = true;  // the current line holds only spaces or tabs so far
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      if (!line_start && blank_so_far) return false;  // a whitespace-only line
      line_start = true;
      blank_so_far = true;
      continue;
    }
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
    line_start = false;
    if (c != ' ' && c != '\t') blank_so_far = false;
  }
  return true;
}

void emit_text(YAML::Emitter& out, const std::string& text) {
  if (literal_block_safe(text)) {
    out << YAML::Literal << text;
  } else {
    out << YAML::DoubleQuoted << text;
  }
}

Failure artifact_error(const Values& values, std::string_view why) {
  return fail(Errc::config_invalid,
              "failed to render user-data from " + values.source.string() + ": artifact: " + std::string(why));
}

// The path of a URL without its query, for its file name suffix (s3 and https alike).
std::string url_path(std::string_view url) { return std::string(url.substr(0, url.find_first_of("?#"))); }

std::string installer_text(std::string_view name) {
  for (const auto& f : kArtifactInstaller) {
    if (f.name == name) return std::string(f.text);
  }
  throw std::logic_error("embedded installer file missing: " + std::string(name));
}

// Ignition: the sysext image lands in /etc/extensions, where systemd-sysext.service merges it
// into /usr at boot (https://www.flatcar.org/docs/latest/provisioning/sysext/), so the shipped
// units' /usr/bin paths hold once it has run: order them after it.
Status add_sysext(const Values& values, Payload& p) {
  const auto& a = *values.artifact;
  if (!a.url.starts_with("data:") && !url_path(a.url).ends_with(".raw")) {
    return artifact_error(values, "url: Ignition installs the systemd-sysext image (kontena-node-VERSION-x86-64.raw), "
                                  "not '" + a.url + "'; point url at the .raw and sha512 at its hash");
  }
  p.files.push_back({.path = std::string(kSysextImagePath), .content = {}, .mode = 0644, .source = a.url,
                     .sha512 = a.sha512});
  for (auto& u : p.units) {
    u.dropins.push_back({"10-kontena-sysext.conf",
                         "# /usr/bin/kontena-* come from " + std::string(kSysextImagePath) +
                             ", which systemd-sysext merges into /usr.\n[Unit]\nWants=systemd-sysext.service\n"
                             "After=systemd-sysext.service\n"});
  }
  return {};
}

// cloud-config: write_files cannot fetch, so a oneshot unit fetches and checks the tarball into
// /opt/kontena-node before the shipped units, which run the binaries from there.
Status add_tarball_installer(const Values& values, Payload& p) {
  const auto& a = *values.artifact;
  if (!a.url.starts_with("https:") && !a.url.starts_with("http:")) {
    return artifact_error(values, "url: cloud-config fetches the tarball with curl: use an https:// URL (an S3 "
                                  "object's https URL, presigned when private), not '" + a.url + "'");
  }
  if (const auto path = url_path(a.url); !path.ends_with(".tar.gz") && !path.ends_with(".tgz")) {
    return artifact_error(values, "url: cloud-config installs the release tarball (kontena-node-VERSION-x86_64.tar.gz), "
                                  "not '" + a.url + "'; point url at the tarball and sha512 at its hash");
  }
  p.files.push_back({"/etc/kontena/artifact.env",
                     "# Written by kontena-bootstrap render: the kontena-node release kontena-node-install.service "
                     "installs.\nKONTENA_NODE_URL=" + quote_env_file_value(a.url) + "\nKONTENA_NODE_SHA512=" +
                         a.sha512 + "\n",
                     0644});
  p.files.push_back({"/etc/kontena/install-kontena-node.sh", installer_text("install-kontena-node.sh"), 0755});
  const std::string dropin = "[Unit]\nRequires=" + std::string(kInstallUnitName) + "\nAfter=" +
                             std::string(kInstallUnitName) + "\n";
  for (auto& u : p.units) {
    static constexpr std::string_view kUsrBin = "/usr/bin/";
    for (std::size_t at = 0; (at = u.content.find(std::string(kUsrBin) + "kontena-", at)) != std::string::npos;) {
      u.content.replace(at, kUsrBin.size(), kOptBinDir);
      at += kOptBinDir.size();
    }
    u.dropins.push_back({"10-kontena-node-install.conf", dropin});
  }
  p.units.insert(p.units.begin(), PayloadUnit{std::string(kInstallUnitName), installer_text(kInstallUnitName), {}});
  return {};
}

}  // namespace

Result<Payload> build_payload(const Values& values, Format format) {
  if (!values.artifact) {
    return artifact_error(values, "missing; a stock Container Linux or Flatcar instance has no kontena-node, so set "
                                  "artifact: {url: <the release .raw (Ignition) or .tar.gz (cloud-config)>, sha512: "
                                  "<its hash>}, or artifact: {baked: true} when the AMI has /usr/bin/kontena-*");
  }
  Payload p;
  p.files.push_back({std::string(kAgentEnvPath), agent_env(values), 0600});
  p.files.push_back({std::string(kAgentConfigPath), agent_yml(values), 0644});
  for (const auto& t : values.templates) {
    p.files.push_back({std::string(kTemplatesPath) + "/" + t.name, t.text, 0644});
  }
  for (const auto& unit : kShippedUnits) p.units.push_back({std::string(unit.name), std::string(unit.text), {}});
  if (values.artifact->baked) return p;
  if (auto st = format == Format::ignition ? add_sysext(values, p) : add_tarball_installer(values, p); !st) {
    return st.error();
  }
  return p;
}

std::string render_cloud_config(const Payload& payload) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  out << YAML::Key << "write_files" << YAML::Value << YAML::BeginSeq;
  for (const auto& f : payload.files) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", f.mode);
    out << YAML::BeginMap;
    out << YAML::Key << "path" << YAML::Value << f.path;
    // A string, as coreos-cloudinit's validator wants (^0?[0-7]{3,4}$); a bare 0600 would be
    // read as a number.
    out << YAML::Key << "permissions" << YAML::Value << YAML::DoubleQuoted << std::string(mode.data());
    out << YAML::Key << "owner" << YAML::Value << "root:root";
    out << YAML::Key << "content" << YAML::Value;
    emit_text(out, f.content);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "coreos" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "units" << YAML::Value << YAML::BeginSeq;
  for (const auto& u : payload.units) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << u.name;
    out << YAML::Key << "enable" << YAML::Value << true;
    out << YAML::Key << "content" << YAML::Value;
    emit_text(out, u.content);
    if (!u.dropins.empty()) {
      out << YAML::Key << "drop_ins" << YAML::Value << YAML::BeginSeq;
      for (const auto& d : u.dropins) {
        out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << d.name << YAML::Key << "content"
            << YAML::Value;
        emit_text(out, d.content);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::Key << "command" << YAML::Value << "start";
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndMap;
  return "#cloud-config\n" + std::string(out.c_str()) + "\n";
}

// RFC 2397 data URL with the content percent-encoded (RFC 3986 section 2.1); the unreserved
// characters and a few harmless ones stay readable in the rendered Ignition file.
std::string data_url(std::string_view content) {
  static constexpr auto kKept = boost::urls::unreserved_chars + boost::urls::grammar::lut_chars("/:=,@");
  return "data:," + boost::urls::encode(content, kKept);
}

std::string render_ignition(const Payload& payload) {
  using nlohmann::ordered_json;
  ordered_json files = ordered_json::array();
  for (const auto& f : payload.files) {
    ordered_json contents{{"source", f.source.empty() ? data_url(f.content) : f.source}};
    if (!f.sha512.empty()) contents["verification"] = {{"hash", "sha512-" + f.sha512}};
    files.push_back(ordered_json{{"path", f.path},
                                 {"mode", f.mode},  // decimal in JSON: 0600 -> 384
                                 {"overwrite", true},
                                 {"contents", contents}});
  }
  ordered_json units = ordered_json::array();
  for (const auto& u : payload.units) {
    ordered_json unit{{"name", u.name}, {"enabled", true}, {"contents", u.content}};
    for (const auto& d : u.dropins) unit["dropins"].push_back(ordered_json{{"name", d.name}, {"contents", d.content}});
    units.push_back(unit);
  }
  const ordered_json config{{"ignition", {{"version", "3.3.0"}}},
                            {"storage", {{"files", files}}},
                            {"systemd", {{"units", units}}}};
  return config.dump() + "\n";
}

std::string gzip(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header with mtime 0 and no file name.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
  // zlib's API takes non-const input; it never writes through next_in.
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("zlib deflate did not finish");
  out.resize(written);
  return out;
}

Result<UserData> make_user_data(const Payload& payload, Format format) {
  UserData ud;
  if (format == Format::ignition) {
    ud.bytes = render_ignition(payload);
    ud.plain_size = ud.bytes.size();
    if (ud.bytes.size() > kUserDataLimit) {
      return fail(Errc::config_invalid,
                  "failed to render Ignition user-data: " + std::to_string(ud.bytes.size()) +
                      " bytes exceed EC2's 16384-byte user-data limit (Ignition does not read gzip'd user-data on "
                      "AWS); host the rendered config on https:// or s3:// and pass as user-data a small config "
                      "whose ignition.config.replace.source points at it, or shrink the templates");
    }
    return ud;
  }
  ud.bytes = render_cloud_config(payload);
  ud.plain_size = ud.bytes.size();
  if (ud.bytes.size() > kUserDataLimit) {
    ud.bytes = gzip(ud.bytes);
    ud.gzipped = true;
    if (ud.bytes.size() > kUserDataLimit) {
      return fail(Errc::config_invalid, "failed to render cloud-config user-data: " + std::to_string(ud.plain_size) +
                                            " bytes, " + std::to_string(ud.bytes.size()) +
                                            " gzip'd, exceed EC2's 16384-byte user-data limit; shrink the templates");
    }
  }
  return ud;
}

}  // namespace kn::bootstrap

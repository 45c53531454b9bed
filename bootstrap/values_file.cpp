#include "bootstrap/values_file.hpp"

#include "bootstrap/metadata_env.hpp"
#include "bootstrap/template_renderer.hpp"
#include "bootstrap/unit_escape.hpp"
#include "bootstrap/unit_installer.hpp"
#include "core/atomic_file.hpp"
#include "core/settings.hpp"
#include "master/handshake.hpp"

#include <boost/url/parse.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

namespace kn::bootstrap {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 8> kKeys{"url",     "token",  "token_file", "node_labels",
                                                "ephemeral", "compat", "templates",  "artifact"};

class Reader {
 public:
  explicit Reader(fs::path path) : path_(std::move(path)) {}

  Failure error(std::string_view key, std::string_view why) const {
    return fail(Errc::config_invalid, "failed to read values file " + path_.string() + ": " + std::string(key) + ": " +
                                          std::string(why));
  }

  // The same, naming the line of `at` (a value of the wrong YAML type).
  Failure error(const YAML::Node& at, std::string_view key, std::string_view why) const {
    return fail(Errc::config_invalid, "failed to read values file " + path_.string() + ":" +
                                          std::to_string(at.Mark().line + 1) + ": " + std::string(key) + ": " +
                                          std::string(why));
  }

  Result<std::string> scalar(const YAML::Node& node, std::string_view key) const {
    if (!node.IsScalar()) return error(node, key, "must be a single value, not a list or mapping");
    return node.Scalar();
  }

  fs::path resolve(const std::string& file) const {
    const fs::path p(file);
    return p.is_absolute() ? p : path_.parent_path() / p;
  }

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Whether `text` is UTF-8 (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF). The user-data is YAML or JSON, which carry Unicode text only: yaml-cpp writes other
// bytes as they are and reads them back as U+FFFD, so a token with one stray byte reached the
// instance changed (found by fuzz/fuzz_render_payload.cpp; fuzz/regressions/render_payload/).
bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5U) == 0x6 ? 2 : (c >> 4U) == 0xE ? 3 : (c >> 3U) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > text.size()) return false;
    std::uint32_t cp = n == 1 ? c : c & (0x7FU >> n);
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (cc & 0x3FU);
    }
    static constexpr std::array<std::uint32_t, 5> kMin{0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// Whether a template name is a unit or a drop-in of one (see unit_installer.hpp).
bool valid_template_name(const std::string& name) {
  const fs::path p(name);
  if (name.empty() || p.is_absolute() || name.find("..") != std::string::npos) return false;
  auto parts = std::distance(p.begin(), p.end());
  if (parts == 1) return has_unit_suffix(name);
  if (parts != 2) return false;
  const std::string dir = p.begin()->string();
  const std::string file = p.filename().string();
  return dir.ends_with(".d") && has_unit_suffix(dir.substr(0, dir.size() - 2)) && file.ends_with(".conf") &&
         file.size() > 5;
}

// A stand-in instance for checking templates at render time: every variable has a value,
// so an unknown variable or a misplaced one fails here, off the instance, and not at boot.
Result<InstanceMetadata> sample_metadata() {
  Placement p{.region = "eu-central-1", .availability_zone = "eu-central-1a", .availability_zone_id = "euc1-az2",
              .instance_id = "i-0123456789abcdef0", .instance_type = "t3.small", .lifecycle = "on-demand",
              .private_ipv4 = "10.0.0.10", .public_ipv4 = "192.0.2.10"};
  auto labels = LabelSet::parse(std::vector<std::string>{"az=a"});
  if (!labels) return labels.error();
  return InstanceMetadata::collect(&p, *labels);
}

bool loopback_host(const boost::urls::url_view& url) {
  const auto host = url.host_type() == boost::urls::host_type::ipv6 ? std::string(url.host_address())
                                                                     : std::string(url.encoded_host());
  return host == "localhost" || host == "::1" || (url.host_type() == boost::urls::host_type::ipv4 &&
                                                  host.starts_with("127."));
}

// artifact: {url, sha512} or {baked: true}.
Result<Artifact> read_artifact(const Reader& reader, const YAML::Node& node) {
  if (!node.IsMap()) return reader.error(node, "artifact", "expected {url: ..., sha512: ...} or {baked: true}");
  for (const auto& field : node) {
    const auto name = field.first.IsScalar() ? field.first.Scalar() : std::string();
    if (name != "url" && name != "sha512" && name != "baked") {
      return reader.error(field.first, "artifact." + name, "unknown key (known: url, sha512, baked)");
    }
  }
  Artifact a;
  if (const auto baked = node["baked"]) {
    auto text = reader.scalar(baked, "artifact.baked");
    if (!text) return text.error();
    const auto value = config::parse_bool(*text);
    if (!value) return reader.error(baked, "artifact.baked", "'" + *text + "' is not true or false");
    a.baked = *value;
  }
  if (a.baked) {
    if (node["url"] || node["sha512"]) {
      return reader.error("artifact", "baked: true installs nothing, so it takes no url or sha512; drop one or the "
                                      "other");
    }
    return a;
  }
  if (!node["url"] || !node["sha512"]) {
    return reader.error("artifact", "set both url and sha512 (the release file and its SHA-512), or baked: true "
                                    "when the AMI has /usr/bin/kontena-*");
  }
  auto url = reader.scalar(node["url"], "artifact.url");
  if (!url) return url.error();
  auto parsed = boost::urls::parse_absolute_uri(*url);
  if (!parsed) return reader.error("artifact.url", "'" + *url + "' is not an absolute URL");
  // What Ignition fetches with a hash check (https://coreos.github.io/ignition/configuration-v3_3/);
  // plain http only on loopback, for a config applied off-instance (scripts/boot-test.sh).
  const auto scheme = parsed->scheme_id();
  const bool allowed = scheme == boost::urls::scheme::https || parsed->scheme() == "s3" || parsed->scheme() == "data" ||
                       (scheme == boost::urls::scheme::http && loopback_host(*parsed));
  if (!allowed) {
    return reader.error("artifact.url", "'" + *url + "': use https:// or s3:// (or a data: URL); http:// is only "
                                        "taken for a loopback host");
  }
  if (url->find_first_of(" \t\n\"'\\$`") != std::string::npos) {
    return reader.error("artifact.url", "'" + *url + "' holds a space, quote, backslash, $ or backtick");
  }
  a.url = *url;
  auto sha = reader.scalar(node["sha512"], "artifact.sha512");
  if (!sha) return sha.error();
  std::string hex = *sha;
  std::ranges::transform(hex, hex.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (hex.size() != 128 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return reader.error("artifact.sha512", "expected the 128 hex digits of `sha512sum FILE`");
  }
  a.sha512 = std::move(hex);
  return a;
}

}  // namespace

Result<Values> load_values_file(const fs::path& path) {
  const Reader reader(path);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    return fail(Errc::config_invalid, "failed to read values file " + path.string() + ": cannot open it");
  } catch (const YAML::Exception& e) {
    return fail(Errc::config_invalid, "failed to parse values file " + path.string() + ": line " +
                                          std::to_string(e.mark.line + 1) + ", column " +
                                          std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return reader.error("(top level)", "expected a mapping with url, token_file, ...");

  Values v;
  v.source = path;
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) return reader.error(entry.first, "(key)", "a key must be a plain word");
    const auto& key = entry.first.Scalar();
    if (std::ranges::find(kKeys, key) == kKeys.end()) {
      return reader.error(key, "unknown key (known: url, token, token_file, node_labels, ephemeral, compat, templates, "
                                "artifact)");
    }
  }

  // url
  if (!root["url"]) return reader.error("url", "missing; set the Kontena master URL, e.g. https://master.example.com");
  auto url = reader.scalar(root["url"], "url");
  if (!url) return url.error();
  // The agent's own rules (agent/master/handshake.cpp), so a URL the agent would refuse at
  // boot is refused here, off the instance.
  if (auto endpoint = master::parse_master_url(*url); !endpoint) return reader.error("url", endpoint.error().message);
  if (url->find_first_of(" \t\"'\\") != std::string::npos) {
    return reader.error("url", "'" + *url + "' holds a space, quote or backslash");
  }
  if (auto st = check_representable("url", *url); !st) return reader.error("url", st.error().message);
  v.url = *url;

  // token or token_file; the token itself never appears in a message.
  const bool has_token = static_cast<bool>(root["token"]);
  const bool has_file = static_cast<bool>(root["token_file"]);
  if (has_token == has_file) {
    return reader.error("token", "set exactly one of token and token_file (a file keeps the token out of the values)");
  }
  if (has_token) {
    auto token = reader.scalar(root["token"], "token");
    if (!token) return token.error();
    v.token = std::move(*token);
  } else {
    auto file = reader.scalar(root["token_file"], "token_file");
    if (!file) return file.error();
    const auto token_path = reader.resolve(*file);
    auto token = read_token_file(token_path);
    if (!token) return reader.error("token_file", token_path.string() + ": " + token.error().message);
    v.token = std::move(*token);
  }
  if (v.token.empty()) return reader.error(has_token ? "token" : "token_file", "the token is empty");
  if (v.token.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
    return reader.error(has_token ? "token" : "token_file",
                        "the token holds a line break or NUL byte, which agent.env cannot represent safely");
  }

  // node_labels
  if (const auto node = root["node_labels"]) {
    std::vector<std::string> items;
    if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!item.IsScalar()) return reader.error(item, "node_labels", "items must be key=value strings");
        items.push_back(item.Scalar());
      }
    } else if (node.IsScalar()) {
      items = config::split_list(node.Scalar());
    } else {
      return reader.error(node, "node_labels", "expected a list of key=value or one string");
    }
    auto labels = LabelSet::parse(items);
    if (!labels) return reader.error("node_labels", labels.error().message);
    v.labels = std::move(*labels);
  }

  if (const auto node = root["ephemeral"]) {
    auto text = reader.scalar(node, "ephemeral");
    if (!text) return text.error();
    const auto ephemeral = config::parse_bool(*text);
    if (!ephemeral) return reader.error(node, "ephemeral", "'" + *text + "' is not true or false");
    v.ephemeral = *ephemeral;
  }

  if (const auto node = root["compat"]) {
    auto text = reader.scalar(node, "compat");
    if (!text) return text.error();
    if (!parse_compat(*text)) return reader.error("compat", "'" + *text + "' is not one of none|afterburn|coreos|all");
    v.compat = *text;
  }

  if (const auto node = root["templates"]) {
    if (!node.IsSequence()) return reader.error(node, "templates", "expected a list of {file, name, command}");
    auto sample = sample_metadata();
    if (!sample) return sample.error();
    std::size_t index = 0;
    for (const auto& item_value : node) {
      const YAML::Node& item = item_value;
      const std::string key = "templates[" + std::to_string(index++) + "]";
      if (item.IsMap()) {
        for (const auto& field : item) {
          if (!field.first.IsScalar()) return reader.error(field.first, key, "a key must be a plain word");
          const auto& field_name = field.first.Scalar();
          if (field_name != "file" && field_name != "name" && field_name != "command") {
            return reader.error(key + "." + field_name, "unknown key (known: file, name, command)");
          }
        }
      } else if (!item.IsScalar()) {
        return reader.error(item, key, "expected a file name or {file, name, command}");
      }
      const YAML::Node none;
      const YAML::Node file_node = item.IsMap() ? item["file"] : item;
      const YAML::Node name_node = item.IsMap() ? item["name"] : none;
      const YAML::Node command_node = item.IsMap() ? item["command"] : none;
      if (!file_node || !file_node.IsScalar()) return reader.error(key + ".file", "missing; name the template file");
      TemplateFile t;
      const auto file = reader.resolve(file_node.Scalar());
      t.name = name_node && name_node.IsScalar() ? name_node.Scalar() : file.filename().string();
      if (!valid_template_name(t.name)) {
        return reader.error(key + ".name", "'" + t.name +
                                               "' is neither a unit name (efs.mount, app.service) nor a drop-in "
                                               "(<unit>.d/<name>.conf)");
      }
      if (command_node) {
        if (!command_node.IsScalar() || (command_node.Scalar() != "start" && command_node.Scalar() != "restart")) {
          return reader.error(key + ".command", "must be start or restart");
        }
        t.command = command_node.Scalar();
        if (t.name.find('/') != std::string::npos) {
          return reader.error(key + ".command", "a drop-in cannot be started; put the command on its unit");
        }
      }
      auto text = read_file(file);
      if (!text) return reader.error(key + ".file", text.error().message);
      if (!*text) return reader.error(key + ".file", "no such file " + file.string());
      t.text = std::move(**text);
      // Render once with sample values: unknown variables fail now, not at boot.
      if (auto rendered = render_unit_template(t.text, *sample, file.string()); !rendered) {
        return Failure(Errc::template_invalid, rendered.error().message);
      }
      if (!valid_utf8(t.text)) {
        return reader.error(key + ".file", file.string() + " is not UTF-8 text, which the user-data (YAML or JSON) cannot carry");
      }
      v.templates.push_back(std::move(t));
    }
  }

  if (const auto node = root["artifact"]) {
    auto artifact = read_artifact(reader, node);
    if (!artifact) return artifact.error();
    v.artifact = std::move(*artifact);
  }
  if (!valid_utf8(v.url)) return reader.error("url", "the URL is not UTF-8 text, which the user-data cannot carry");
  for (const auto& t : v.templates) {
    if (!valid_utf8(t.name)) return reader.error("templates", "a template name is not UTF-8 text");
  }
  if (!valid_utf8(v.token)) {
    return reader.error(has_token ? "token" : "token_file", "the token is not UTF-8 text, which the user-data cannot carry");
  }
  for (const auto& label : v.labels.items()) {
    if (!valid_utf8(label.str())) return reader.error("node_labels", "a label is not UTF-8 text (" + label.key + ")");
  }
  return v;
}

}  // namespace kn::bootstrap

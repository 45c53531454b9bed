// Template substitution and unit escaping (bootstrap/template_renderer.hpp, unit_escape.hpp)
// with hostile instance metadata and tags: IMDS values and user labels are not ours.
// Input: "<template>\x01<region>\x01<az>\x01<az id>\x01<instance id>\x01<type>\x01<lifecycle>
//         \x01<private ip>\x01<public ip>\x01<labels>".
// Properties:
//  - escaping then parsing the way systemd does (systemd.syntax(7) "Quoting", specifiers,
//    systemd.service(5) "$$") gives the value back, as exactly one word;
//  - the env-file quoting parses back the same way (systemd.exec(5) EnvironmentFile=);
//  - a rendered unit has exactly the template's lines (no value adds a line, a directive, a
//    comment or a line continuation; a comment's last character is free, systemd skips it).
#include "bootstrap/metadata_env.hpp"
#include "bootstrap/template_renderer.hpp"
#include "bootstrap/unit_escape.hpp"
#include "core/labels.hpp"
#include "core/logging.hpp"
#include "core/placement.hpp"
#include "core/settings.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

using namespace kn;

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One word of a systemd list or command line: C escapes, "%%", and on Exec lines "$$". Any
// unescaped separator, quote or lone specifier makes it not one literal word (nullopt).
std::optional<std::string> parse_word(std::string_view w, bool exec) {
  // An unquoted lone ";" separates commands (systemd checks the raw text, before unescaping).
  if (exec && w == ";") return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const char c = w[i];
    if (c == '\\') {
      if (i + 1 >= w.size()) return std::nullopt;
      const char n = w[++i];
      if (n == '"' || n == '\'' || n == '\\') {
        out += n;
      } else if (n == 't') {
        out += '\t';
      } else if (n == 'x' && i + 2 < w.size() && hex_digit(w[i + 1]) >= 0 && hex_digit(w[i + 2]) >= 0) {
        out += static_cast<char>(hex_digit(w[i + 1]) * 16 + hex_digit(w[i + 2]));
        i += 2;
      } else {
        return std::nullopt;
      }
    } else if (c == '%' || (exec && c == '$')) {
      if (i + 1 >= w.size() || w[i + 1] != c) return std::nullopt;
      out += c;
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'') {
      return std::nullopt;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> parse_specifiers(std::string_view w) {
  std::string out;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] == '%') {
      if (i + 1 >= w.size() || w[i + 1] != '%') return std::nullopt;
      ++i;
    }
    out += w[i];
  }
  return out;
}

// A double-quoted EnvironmentFile= value: backslash escapes \ " $ `; no bare quote inside.
std::optional<std::string> parse_env_value(std::string_view q) {
  if (q.size() < 2 || q.front() != '"' || q.back() != '"') return std::nullopt;
  q = q.substr(1, q.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (q[i] == '"') return std::nullopt;
    if (q[i] == '\\') {
      if (i + 1 >= q.size()) return std::nullopt;
      ++i;
    }
    out += q[i];
  }
  return out;
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_comment(std::string_view line) {
  const auto first = line.find_first_not_of(" \t\n\r\v\f");
  return first != std::string_view::npos && (line[first] == '#' || line[first] == ';');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();

  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view text = fuzz::next_field(rest);

  // Escaping round trips, on the raw field (when it is representable at all).
  const std::string_view raw = rest.empty() ? text : rest.substr(0, rest.find('\x01'));
  if (bootstrap::check_representable("fuzz", raw)) {
    const auto exec = parse_word(bootstrap::escape_exec_word(raw), true);
    fuzz::check(exec && *exec == raw, "an escaped Exec word parses back to the value as one word", raw);
    const auto list = parse_word(bootstrap::escape_list_word(raw), false);
    fuzz::check(list && *list == raw, "an escaped list word parses back to the value as one word", raw);
    const auto spec = parse_specifiers(bootstrap::escape_specifiers(raw));
    fuzz::check(spec && *spec == raw, "escaped specifiers parse back to the value", raw);
    const auto env = parse_env_value(bootstrap::quote_env_file_value(raw));
    fuzz::check(env && *env == raw, "a quoted env-file value parses back to the value", raw);
  }

  Placement p;
  p.region = std::string(fuzz::next_field(rest));
  p.availability_zone = std::string(fuzz::next_field(rest));
  p.availability_zone_id = std::string(fuzz::next_field(rest));
  p.instance_id = std::string(fuzz::next_field(rest));
  p.instance_type = std::string(fuzz::next_field(rest));
  p.lifecycle = std::string(fuzz::next_field(rest));
  p.private_ipv4 = std::string(fuzz::next_field(rest));
  p.public_ipv4 = std::string(fuzz::next_field(rest));
  auto labels = LabelSet::parse(config::split_list(fuzz::next_field(rest)));
  if (!labels) return 0;
  const auto metadata = bootstrap::InstanceMetadata::collect(&p, *labels);
  if (!metadata) return 0;

  const auto rendered = bootstrap::render_unit_template(text, *metadata, "fuzz.service");
  if (!rendered) return 0;
  fuzz::check(std::ranges::count(*rendered, '\n') == std::ranges::count(text, '\n'),
              "a rendered unit has the template's lines", *rendered);
  std::string_view in = text;
  std::string_view out = *rendered;
  while (!in.empty() || !out.empty()) {
    const auto in_line = in.substr(0, in.find('\n'));
    const auto out_line = out.substr(0, out.find('\n'));
    // systemd skips comment lines before it joins continued ones (conf-parser.c): a comment
    // stays a comment, and its last character does not matter.
    fuzz::check(is_comment(out_line) == is_comment(in_line), "a value never makes or unmakes a comment", out_line);
    fuzz::check(is_comment(out_line) || !rtrim(out_line).ends_with('\\') || rtrim(in_line).ends_with('\\'),
                "a value never turns a line into a continuation", out_line);
    fuzz::check(std::ranges::count(out_line, '\r') == std::ranges::count(in_line, '\r'),
                "a value never adds a carriage return", out_line);
    in = in.find('\n') == std::string_view::npos ? std::string_view{} : in.substr(in.find('\n') + 1);
    out = out.find('\n') == std::string_view::npos ? std::string_view{} : out.substr(out.find('\n') + 1);
  }
  return 0;
}

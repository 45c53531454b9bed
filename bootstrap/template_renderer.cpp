#include "bootstrap/template_renderer.hpp"

#include "bootstrap/unit_escape.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace kn::bootstrap {
namespace {

enum class Destination { generic, list, exec, forbidden };

// Keys whose values systemd splits into words with C unquoting (systemd.syntax(7) "Quoting").
// Exec keys also expand $VAR (systemd.service(5) "Command lines").
// ExecStopPre exists in socket units (systemd.socket(5)).
constexpr std::array<std::string_view, 8> kExecKeys{"ExecStart",   "ExecStartPre", "ExecStartPost", "ExecStop",
                                                    "ExecStopPre", "ExecStopPost", "ExecReload",    "ExecCondition"};
constexpr std::array<std::string_view, 3> kListKeys{"Environment", "PassEnvironment", "UnsetEnvironment"};

Destination destination_of(std::string_view key) {
  if (std::ranges::find(kExecKeys, key) != kExecKeys.end()) return Destination::exec;
  if (std::ranges::find(kListKeys, key) != kListKeys.end()) return Destination::list;
  return Destination::generic;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

bool name_start(char c) { return c >= 'a' && c <= 'z'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '_'; }

class LineRenderer {
 public:
  LineRenderer(const InstanceMetadata& md, std::string_view source) : md_(md), source_(source) {}

  // Substitutes the variables of `text` (one part of line `line_no`) for `dest`.
  Result<std::string> substitute(std::string_view text, Destination dest, std::size_t line_no) const {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '\\' && i + 1 < text.size() && text[i + 1] == '$') {
        out += dest == Destination::exec ? "$$" : "$";  // systemd expands a bare $ on Exec lines
        ++i;
        continue;
      }
      if (c != '$') {
        out += c;
        continue;
      }
      if (i + 1 < text.size() && text[i + 1] == '$') {  // systemd's own "$$"
        out += "$$";
        ++i;
        continue;
      }
      std::size_t begin = i + 1;
      std::size_t end = begin;
      bool braced = false;
      if (begin < text.size() && text[begin] == '{') {
        braced = true;
        ++begin;
        end = begin;
      }
      if (begin >= text.size() || !name_start(text[begin])) {  // $VAR, ${VAR}, a lone $
        out += c;
        continue;
      }
      while (end < text.size() && name_char(text[end])) ++end;
      if (braced) {
        if (end >= text.size() || text[end] != '}') return error(line_no, "unterminated ${ in '" + std::string(text) + "'");
      }
      const std::string_view name = text.substr(begin, end - begin);
      const MetadataItem* item = md_.find_variable(name);
      if (item == nullptr) {
        return error(line_no, "unknown template variable $" + std::string(name) + " (known: " + md_.variable_list() +
                                  "; write \\$" + std::string(name) + " for a literal dollar)");
      }
      const std::string key = "$" + std::string(name) + " (" + std::string(item->env) + ")";
      if (auto st = check_representable(key, item->value); !st) return error(line_no, st.error().message);
      const std::size_t after = braced ? end + 1 : end;
      switch (dest) {
        case Destination::forbidden:
          return error(line_no, "template variable $" + std::string(name) +
                                    " in a section header or key name; variables may only appear in values");
        case Destination::exec: out += escape_exec_word(item->value); break;
        case Destination::list: out += escape_list_word(item->value); break;
        case Destination::generic:
          if (item->value.ends_with('\\') && trim(text.substr(after)).empty()) {
            return error(line_no, "the value of " + key +
                                      " ends with a backslash at the end of a line, which systemd reads as a line "
                                      "continuation; move the variable or put it in Environment=");
          }
          out += escape_specifiers(item->value);
          break;
      }
      i = after - 1;
    }
    return out;
  }

  Failure error(std::size_t line_no, const std::string& why) const {
    return fail(Errc::template_invalid,
                "failed to render unit template " + std::string(source_) + ": line " + std::to_string(line_no) + ": " + why);
  }

 private:
  const InstanceMetadata& md_;
  std::string_view source_;
};

}  // namespace

Result<std::string> render_unit_template(std::string_view text, const InstanceMetadata& metadata,
                                         std::string_view source) {
  const LineRenderer renderer(metadata, source);
  std::string out;
  out.reserve(text.size() + 64);
  bool continuing = false;
  Destination continued = Destination::generic;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    const std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;

    const std::string_view stripped = trim(line);
    // systemd skips comment lines before it joins continued lines (conf-parser.c), so a comment
    // neither ends nor starts a continuation.
    const bool comment = !stripped.empty() && (stripped.front() == '#' || stripped.front() == ';');
    std::string rendered;
    Destination dest = Destination::generic;
    if (comment || (!continuing && stripped.empty())) {
      auto r = renderer.substitute(line, Destination::generic, line_no);
      if (!r) return r.error();
      rendered = std::move(*r);
    } else if (continuing) {
      dest = continued;
      auto r = renderer.substitute(line, dest, line_no);
      if (!r) return r.error();
      rendered = std::move(*r);
    } else if (stripped.front() == '[') {
      auto r = renderer.substitute(line, Destination::forbidden, line_no);
      if (!r) return r.error();
      rendered = std::move(*r);
    } else {
      const auto eq = line.find('=');
      const std::string_view key_part = eq == std::string_view::npos ? line : line.substr(0, eq + 1);
      auto key = renderer.substitute(key_part, Destination::forbidden, line_no);
      if (!key) return key.error();
      rendered = std::move(*key);
      if (eq != std::string_view::npos) {
        dest = destination_of(trim(line.substr(0, eq)));
        auto value = renderer.substitute(line.substr(eq + 1), dest, line_no);
        if (!value) return value.error();
        rendered += *value;
      }
    }
    // Whatever the values (an empty one after "\ " too: no public IPv4 in a private subnet), a
    // rendered line ends in a backslash only where the template's does, so no value joins the
    // next line to this one (found by fuzz/fuzz_unit_template.cpp; fuzz/regressions/unit_template/).
    // systemd skips a line whose first non-blank is # or ;, even inside a continuation
    // (conf-parser.c), so a value at the start of a continued line must not make it a comment.
    const std::string_view rendered_trimmed = trim(rendered);
    if (!comment && !rendered_trimmed.empty() && (rendered_trimmed.front() == '#' || rendered_trimmed.front() == ';')) {
      return renderer.error(line_no, "the values make the line start with '" + std::string(1, rendered_trimmed.front()) +
                                     "', which systemd reads as a comment; move the variable after other text");
    }
    if (!comment && rendered_trimmed.ends_with('\\') && !stripped.ends_with('\\')) {
      return renderer.error(line_no, "the values make the line end with a backslash, which systemd reads as a line "
                                     "continuation; move the variable or put it in Environment=");
    }
    out += rendered;
    if (nl != std::string_view::npos) out += '\n';
    if (comment) continue;
    // A line ending in a backslash continues on the next line (systemd.syntax(7)).
    continuing = stripped.ends_with('\\');
    if (!continuing) dest = Destination::generic;
    continued = dest;
  }
  return out;
}

}  // namespace kn::bootstrap

#include "bootstrap/unit_escape.hpp"

#include <array>
#include <cstdio>

namespace kn::bootstrap {

Status check_representable(std::string_view key, std::string_view value) {
  for (const char c : value) {
    const char* what = c == '\n' ? "a newline" : c == '\r' ? "a carriage return" : c == '\0' ? "a NUL byte" : nullptr;
    if (what != nullptr) {
      return fail(Errc::template_invalid, "failed to use the value of " + std::string(key) + ": it holds " + what +
                                              ", which a unit or environment file cannot represent safely");
    }
  }
  return {};
}

std::string escape_specifiers(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '%') out += '%';
    out += c;
  }
  return out;
}

namespace {

std::string escape_word(std::string_view value, bool exec) {
  std::string out;
  out.reserve(value.size() + 8);
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      // A backslash as \x5c (not \\) so a value can never end a line with a backslash,
      // which systemd would read as a line continuation.
      case '\\': out += "\\x5c"; break;
      // A lone ";" word separates commands on an Exec line (systemd.service(5)).
      case ';': out += exec ? "\\x3b" : ";"; break;
      case '"': out += "\\\""; break;
      case '\'': out += "\\'"; break;
      case '%': out += "%%"; break;
      case '$': out += exec ? "$$" : "$"; break;
      case ' ': out += "\\x20"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          std::array<char, 5> hex{};
          std::snprintf(hex.data(), hex.size(), "\\x%02x", static_cast<unsigned>(u));
          out += hex.data();
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

std::string escape_list_word(std::string_view value) { return escape_word(value, false); }
std::string escape_exec_word(std::string_view value) { return escape_word(value, true); }

std::string quote_env_file_value(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '\\' || c == '"' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace kn::bootstrap

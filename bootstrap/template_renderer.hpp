// Renders a unit template (a systemd unit or drop-in holding $availability_zone and friends,
// in the style of coreos-cloudinit's $private_ipv4) with the instance metadata.
//
// Syntax: `$name` or `${name}` with a lower-case name is a template variable and must be one
// of InstanceMetadata's; `\$` writes a literal `$`; `$$`, `$VAR` and `${VAR}` with upper-case
// names are left alone for systemd's own expansion.
//
// Every value is escaped for the line it lands on, which the renderer finds by reading the
// template as systemd does (sections, Key=value, continuation lines, comments):
//   Exec*=                    escape_exec_word  (C escapes, `$` -> `$$`, `%` -> `%%`)
//   Environment= and lists    escape_list_word  (C escapes, `%` -> `%%`)
//   any other key, comments   escape_specifiers (`%` -> `%%`); a value ending in `\` at the
//                             end of such a line is refused (it would join the next line)
// Variables in section headers or key names are refused: they would let metadata choose
// what is configured. Errors are Errc::template_invalid naming the file, line and variable.
#pragma once

#include "bootstrap/metadata_env.hpp"

#include <string>
#include <string_view>

namespace kn::bootstrap {

Result<std::string> render_unit_template(std::string_view text, const InstanceMetadata& metadata,
                                         std::string_view source);

}  // namespace kn::bootstrap

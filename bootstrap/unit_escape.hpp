// Escaping of values for the places kontena-bootstrap writes them: systemd unit files and
// environment files. One rule per destination, so a hostile value (quotes, backslashes, `%`,
// `$`, whitespace) lands as data and can never add a directive, an assignment or a line.
//
// systemd.syntax(7) "Quoting" and systemd.unit(5) "Specifiers":
// https://www.freedesktop.org/software/systemd/man/systemd.syntax.html
// https://www.freedesktop.org/software/systemd/man/systemd.unit.html#Specifiers
#pragma once

#include "core/error.hpp"

#include <string>
#include <string_view>

namespace kn::bootstrap {

// Refuses what no destination can hold: newline, carriage return, NUL. `key` names the value
// in the message (for example "KONTENA_AWS_AZ ($az)"). Errc::template_invalid.
Status check_representable(std::string_view key, std::string_view value);

// Any unit-file value: `%` becomes `%%` so systemd's specifier expansion gives it back.
std::string escape_specifiers(std::string_view value);

// One word of a quoted list (Environment=, PassEnvironment=): C escapes for backslash, both
// quotes, whitespace and control characters, so the value stays one word whether or not the
// template put it inside quotes; `%` becomes `%%`. `$` is literal there (systemd.exec(5)).
std::string escape_list_word(std::string_view value);

// One word of a command line (ExecStart= and friends): as escape_list_word, and `$` becomes
// `$$` because systemd expands $VAR in command lines.
std::string escape_exec_word(std::string_view value);

// A value for an environment file read by both systemd's EnvironmentFile= and POSIX shells:
// double quotes, with `\`, `"`, `$` and backquote backslash-escaped (the characters both
// parsers treat specially inside double quotes).
std::string quote_env_file_value(std::string_view value);

}  // namespace kn::bootstrap

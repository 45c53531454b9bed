// One declarative option table drives flag parsing, environment parsing, the config file
// (/etc/kontena/agent.yml), --help, --print-config and the README's settings table.
//
// Precedence: flags > environment > config file > defaults. Every value is validated once,
// at load time, and stored in its canonical form (a choice in the table's spelling, a boolean
// as true/false), so the typed getters below cannot fail and read what validation accepted.
// Commands turn a Settings into their typed option structs once (node/options.hpp,
// app/agent_options.hpp, bootstrap/options.hpp); nothing below them reads a key.
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kn::config {

enum class Type { string, boolean, duration, choice, url, path, labels };

// Which binaries read a setting.
enum Scope : unsigned { agent = 1U, bootstrap = 2U, both = 3U };

struct OptionSpec {
  std::string_view key = {};               // canonical name, also the config-file key
  std::string_view flag = {};              // "--key"; empty when the value must never be in argv
  std::string_view env = {};               // primary environment variable
  std::string_view env_alias = {};         // accepted too (e.g. KONTENA_URI), may be empty
  std::string_view default_value = {};     // empty: unset
  Type type = Type::string;
  std::string_view help = {};
  std::string_view choices = {};      // "a|b|c" for Type::choice; values are stored in this spelling
  bool secret = false;                // masked in --print-config, never logged
  unsigned scope = Scope::both;
  std::string_view minimum = {};      // Type::duration: the smallest value accepted, e.g. "100ms"
};

std::span<const OptionSpec> option_table();
const OptionSpec* find_option(std::string_view key);

enum class Source { unset, default_value, file, environment, flag };
std::string_view to_string(Source s);

struct Setting {
  const OptionSpec* spec = nullptr;
  std::optional<std::string> value = {};
  Source source = Source::unset;
  std::string origin = {};  // "--url", "KONTENA_URL", "/etc/kontena/agent.yml" or "default"
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

struct Sources {
  std::map<std::string, std::string, std::less<>> flags;  // key -> raw value given on the command line
  EnvLookup env = process_env();
  // Tests: the config file read when neither --config nor KONTENA_CONFIG names one
  // (unset: the table's default, /etc/kontena/agent.yml).
  std::optional<std::string> default_config = {};
};

class Settings {
 public:
  // Reads the config file named by the `config` setting (flag/env/default); a missing
  // default file is fine, a missing explicitly named one is an error.
  static Result<Settings> load(const Sources& sources);

  const Setting& setting(std::string_view key) const;
  std::optional<std::string> get(std::string_view key) const;
  // A setting that has a default in the table (throws std::logic_error for one without).
  const std::string& value(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::chrono::milliseconds get_duration(std::string_view key) const;
  // The node labels setting split into "key=value" items (whitespace or comma separated).
  std::vector<std::string> get_list(std::string_view key) const;

  // Overrides a value after load (tests, computed defaults). Validates like load does.
  Status set(std::string_view key, std::string value, Source source, std::string origin);

  // --print-config: one line per setting of this scope: key, value (secrets masked), source.
  std::string describe(unsigned scope) const;

 private:
  std::map<std::string, Setting, std::less<>> values_;
};

// Parsing helpers shared with the CLI layer.
std::optional<bool> parse_bool(std::string_view text);
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Validates one raw value against its spec and returns its canonical form; the message names
// `origin` and the fix.
Result<std::string> validate(const OptionSpec& spec, std::string_view value, std::string_view origin);

// Splits on whitespace and commas, dropping empty items ("a, b c" -> a, b, c).
std::vector<std::string> split_list(std::string_view text);

// The README's settings table (Markdown), every setting with the binaries that read it.
std::string markdown_table();

}  // namespace kn::config

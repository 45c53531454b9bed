// One declarative option table drives flag parsing, environment parsing, the config file
// (/etc/kontena/agent.yml), --help, --print-config and the README's settings table.
//
// Precedence: flags > environment > config file > defaults. Every value is validated once,
// at load time, so the typed getters below cannot fail.
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
  std::string_view choices = {};      // "a|b|c" for Type::choice
  bool secret = false;                // masked in --print-config, never logged
  unsigned scope = Scope::both;
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
  unsigned scope = Scope::both;
};

class Settings {
 public:
  // Reads the config file named by the `config` setting (flag/env/default); a missing
  // default file is fine, a missing explicitly named one is an error.
  static Result<Settings> load(const Sources& sources);

  const Setting& setting(std::string_view key) const;
  std::optional<std::string> get(std::string_view key) const;
  std::string get_or(std::string_view key, std::string_view fallback) const;
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

// Validates one raw value against its spec; the message names `origin` and the fix.
Status validate(const OptionSpec& spec, std::string_view value, std::string_view origin);

// The README's settings table (Markdown), every setting with the binaries that read it.
std::string markdown_table();

}  // namespace kn::config

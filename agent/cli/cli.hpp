// Command-line plumbing shared by kontena-agent and kontena-bootstrap: the settings flags
// generated from the option table, parse-error handling with the documented exit codes,
// and --print-config.
#pragma once

#include "core/settings.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>

namespace kn::cli {

// Adds one flag per option-table entry of `scope` to `app`; values land in a capture that
// load_settings() turns into flag-level settings.
class SettingFlags {
 public:
  void add_to(CLI::App& app, unsigned scope);
  Result<config::Settings> load() const;

 private:
  std::map<std::string, std::string, std::less<>> raw_;
  std::map<std::string, CLI::Option*, std::less<>> options_;
};

// Adds --version and --print-config; sets a footer explaining precedence and exit codes.
void add_common(CLI::App& app, std::string_view binary, bool& print_config);

// Runs `body` and turns exceptions that escape it into exit 70 with one line on stderr.
int guarded_main(const std::function<int()>& body);

// Parses argv; returns an exit code when parsing ends the program (help, version, usage error).
std::optional<int> parse(CLI::App& app, int argc, char** argv);

// Prints the failure as one line and returns its exit code.
int report(const Failure& failure);

}  // namespace kn::cli

#include "cli/cli.hpp"

#include "core/logging.hpp"

#include <iostream>

namespace kn::cli {

void SettingFlags::add_to(CLI::App& app, unsigned scope) {
  for (const auto& spec : config::option_table()) {
    if ((spec.scope & scope) == 0 || spec.flag.empty()) continue;
    std::string help(spec.help);
    if (!spec.choices.empty()) help += " (" + std::string(spec.choices) + ")";
    help += " [env " + std::string(spec.env) + "]";
    if (!spec.default_value.empty()) help += " [default " + std::string(spec.default_value) + "]";
    auto& slot = raw_[std::string(spec.key)];
    CLI::Option* opt = nullptr;
    if (spec.type == config::Type::boolean) {
      // "--ephemeral" means true; "--ephemeral=false" is accepted too.
      opt = app.add_flag(std::string(spec.flag), slot, help);
    } else {
      opt = app.add_option(std::string(spec.flag), slot, help);
      opt->type_name("<" + std::string(spec.key) + ">");
    }
    opt->group("Settings (flags > environment > config file > defaults)");
    options_[std::string(spec.key)] = opt;
  }
}

Result<config::Settings> SettingFlags::load() const {
  config::Sources sources;
  for (const auto& [key, opt] : options_) {
    if (opt->count() > 0) sources.flags.emplace(key, raw_.at(key));
  }
  return config::Settings::load(sources);
}

void add_common(CLI::App& app, std::string_view binary, bool& print_config) {
  app.set_version_flag("--version", std::string(binary) + " " KN_VERSION " (Kontena agent protocol, default 1.5.4)");
  app.add_flag("--print-config", print_config,
               "print every setting with its value and where it came from (secrets masked), then exit");
  app.footer(
      "Exit codes: 0 ok, 64 usage error, 69 unavailable (IMDS, Docker or master; retry later), "
      "78 configuration error; see README.md for all.");
}

int guarded_main(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << "error: internal failure: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "error: internal failure\n";
  }
  return exit_code::software;
}

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << " (see " << app.get_name() << " --help)\n";
    return exit_code::usage;
  }
  return std::nullopt;
}

int report(const Failure& failure) {
  std::cerr << "error: " << failure.message << '\n';
  return failure.exit_code();
}

}  // namespace kn::cli

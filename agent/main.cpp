// kontena-agent: the node agent. Thin: parsing and dispatch; the work is in the library.
#include "cli/cli.hpp"
#include "app/doctor_command.hpp"
#include "app/labels_command.hpp"
#include "app/run_command.hpp"
#include "app/labels_apply_command.hpp"
#include "core/logging.hpp"
#include "systemd/journal_log.hpp"

#include <iostream>

int main(int argc, char** argv) {
  using namespace kn;
  return cli::guarded_main([&] {
    CLI::App app{
        "kontena-agent: labels this Docker host with its EC2 placement (region, availability zone, "
        "ephemeral=true) and keeps it connected to a Kontena master.\n"
        "Settings come from flags, then environment, then " "/etc/kontena/agent.yml, then defaults."};
    app.name("kontena-agent");
    bool print_config = false;
    cli::SettingFlags flags;
    flags.add_to(app, config::Scope::agent);
    cli::add_common(app, "kontena-agent", print_config);
    app.require_subcommand(0, 1);
    bool settings_table = false;
    app.add_flag("--print-settings-table", settings_table, "print the settings as the README's Markdown table")
        ->group("");  // hidden: for maintainers regenerating the docs

    auto* labels = app.add_subcommand(
        "labels", "derive the node labels from EC2 instance metadata (IMDSv2) and print them; changes nothing");
    app::LabelFormat format = app::LabelFormat::text;
    labels
        ->add_option("--format", format, "output format: text (key=value lines), env (KONTENA_NODE_LABELS=...), json")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, app::LabelFormat>{
                {"text", app::LabelFormat::text}, {"env", app::LabelFormat::env}, {"json", app::LabelFormat::json}},
            CLI::ignore_case))
        ->option_text("text|env|json");
    labels->fallthrough();
    bool apply_labels = false;
    labels->add_flag("--apply", apply_labels,
                     "also put the labels on the Docker engine: merge them into daemon.json, reload dockerd "
                     "(no restart), verify with GET /info; prints one summary line");

    auto* run = app.add_subcommand(
        "run", "the daemon (also what kontena-agent does without a subcommand): labels from IMDS, Docker labels "
               "ensured, connected to the Kontena master at KONTENA_URL; exits 0 on SIGTERM");
    run->fallthrough();

    auto* doctor = app.add_subcommand(
        "doctor", "check IMDS (token, hop limit, placement), daemon.json, the Docker engine and its labels, and the "
                  "master's URL, token and reachability; one line per check with the fix; changes nothing; "
                  "exit 0 when all pass, 1 when any fails");
    doctor->fallthrough();

    if (auto code = cli::parse(app, argc, argv)) return *code;
    if (settings_table) {
      std::cout << config::markdown_table();
      return exit_code::ok;
    }
    auto settings = flags.load();
    if (!settings) return cli::report(settings.error());
    if (print_config) {
      std::cout << settings->describe(config::Scope::agent);
      return exit_code::ok;
    }
    // The typed settings, built once; the commands never read a setting by key.
    auto options = app::agent_options(*settings);
    if (!options) return cli::report(options.error());
    systemd::setup_logging("kontena-agent", options->node.log_level);
    if (labels->parsed() && apply_labels) return app::apply_labels_command(*options);
    if (labels->parsed()) return app::labels_command(*options, format);
    if (doctor->parsed()) return app::doctor_command(*options);
    (void)run;  // `run` or no subcommand at all: the daemon
    return app::run_command(*options);
  });
}

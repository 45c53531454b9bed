// kontena-bootstrap: boot-time metadata injection (apply), its preview (metadata) and the
// ASG user-data renderer (render). Thin: parsing and dispatch; the work is in kn_bootstrap.
#include "cli/cli.hpp"
#include "bootstrap/apply_command.hpp"
#include "bootstrap/metadata_command.hpp"
#include "bootstrap/render_command.hpp"
#include "core/logging.hpp"
#include "systemd/journal_log.hpp"

#include <iostream>

int main(int argc, char** argv) {
  using namespace kn;
  return cli::guarded_main([&] {
    CLI::App app{
        "kontena-bootstrap: puts this EC2 instance's placement where Docker and systemd units can use it "
        "(apply, metadata) and renders the Auto Scaling Group user-data that installs kontena-node (render).\n"
        "Settings come from flags, then environment, then /etc/kontena/agent.yml, then defaults."};
    app.name("kontena-bootstrap");
    bool print_config = false;
    cli::SettingFlags flags;
    flags.add_to(app, config::Scope::bootstrap);
    cli::add_common(app, "kontena-bootstrap", print_config);
    app.require_subcommand(0, 1);

    auto* apply = app.add_subcommand(
        "apply",
        "at boot, before docker: write /run/kontena/metadata.env, merge the node labels into daemon.json and render "
        "the unit templates into /run/systemd/system (then daemon-reload); a second run changes nothing");
    apply->fallthrough();

    auto* metadata = app.add_subcommand("metadata", "print the instance metadata apply would inject; changes nothing");
    bootstrap::MetadataFormat metadata_format = bootstrap::MetadataFormat::env;
    metadata
        ->add_option("--format", metadata_format, "output format: env (the metadata.env text) or json")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, bootstrap::MetadataFormat>{{"env", bootstrap::MetadataFormat::env},
                                                             {"json", bootstrap::MetadataFormat::json}},
            CLI::ignore_case))
        ->option_text("env|json");
    metadata->fallthrough();

    auto* render = app.add_subcommand(
        "render", "write the ASG user-data (cloud-config or Ignition 3.3.0) from a values file; no network");
    std::string values_file;
    std::string output;
    bootstrap::Format render_format = bootstrap::Format::ignition;
    render->add_option("--values", values_file, "YAML values file: url, token_file, node_labels, templates, ...")
        ->required()
        ->type_name("<file>");
    render
        ->add_option("--format", render_format,
                     "cloud-config (Container Linux coreos-cloudinit) or ignition (spec 3.3.0, Flatcar) [default ignition]")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, bootstrap::Format>{{"cloud-config", bootstrap::Format::cloud_config},
                                                     {"ignition", bootstrap::Format::ignition}},
            CLI::ignore_case))
        ->option_text("cloud-config|ignition");
    render->add_option("--output,-o", output, "write here (mode 0600: it holds the token) instead of stdout")
        ->type_name("<file>");
    render->fallthrough();

    if (auto code = cli::parse(app, argc, argv)) return *code;
    auto settings = flags.load();
    if (!settings) return cli::report(settings.error());
    if (print_config) {
      std::cout << settings->describe(config::Scope::bootstrap);
      return exit_code::ok;
    }
    if (render->parsed()) {
      systemd::setup_logging("kontena-bootstrap", log::parse_level(settings->value("log-level")));
      return bootstrap::render_command(values_file, render_format, output);
    }
    // The typed settings, built once; the commands never read a setting by key.
    auto options = bootstrap::bootstrap_options(*settings);
    if (!options) return cli::report(options.error());
    systemd::setup_logging("kontena-bootstrap", options->node.log_level);
    if (apply->parsed()) return bootstrap::apply_command(*options, std::cout);
    if (metadata->parsed()) return bootstrap::metadata_command(*options, metadata_format, std::cout);
    std::cerr << app.help();
    return exit_code::usage;
  });
}

#include "bootstrap/apply_command.hpp"

#include "cli/cli.hpp"
#include "bootstrap/metadata_command.hpp"
#include "bootstrap/unit_installer.hpp"
#include "core/atomic_file.hpp"
#include "core/logging.hpp"
#include "docker/label_applier.hpp"
#include "docker/reloader.hpp"
#include "systemd/service_manager.hpp"

#include <optional>
#include <iostream>

namespace kn::bootstrap {
namespace {

namespace fs = std::filesystem;

Result<std::string> write_metadata_env(const fs::path& path, const std::string& text) {
  auto current = read_file(path);
  if (!current) return current.error();
  if (*current && **current == text) return "metadata unchanged: " + path.string();
  if (auto st = write_file_atomically(path, text, FileOwnership{.mode = 0644}); !st) return st.error();
  return "metadata written: " + path.string();
}

}  // namespace

int apply_command(const BootstrapOptions& opts, std::ostream& out) {
  const fs::path& root = opts.root;
  const bool live = fs::path(root).lexically_normal() == fs::path("/");
  std::optional<Failure> first_failure;
  auto record = [&](Failure f) {
    std::cerr << "error: " << f.message << '\n';
    if (!first_failure) first_failure = std::move(f);
  };

  // 1. Instance metadata. Without it nothing else can be rendered.
  LabelSet labels;
  auto md = read_instance_metadata(opts.node, &labels);
  if (!md) return cli::report(md.error());

  const auto& env_path = opts.metadata_env;
  if (auto line = write_metadata_env(env_path, format_env_file(md->environment(opts.compat)))) {
    out << *line << '\n';
  } else {
    record(line.error());
  }

  // 2. Docker engine labels, through the agent's applier.
  auto options = opts.node.docker;
  // Reload only a dockerd that already runs: asking the socket would start a socket-activated
  // docker, which is ordered after this very unit.
  options.reload = live && docker::dockerd_pid(options.pidfile).has_value();
  if (auto report = docker::apply_labels(labels, options)) {
    out << "docker: " << report->summary << '\n';
  } else {
    record(report.error());
  }

  // 3. Unit templates.
  const auto& templates_dir = opts.templates_dir;
  const auto& unit_dir = opts.unit_dir;
  auto installed = install_unit_templates(templates_dir, unit_dir, *md);
  if (!installed) {
    record(installed.error());
  } else {
    if (!installed->templates_found) out << "units: no templates in " << templates_dir.string() << '\n';
    for (const auto& f : installed->files) {
      out << "units: " << (f.changed ? "rendered " : "unchanged ") << (unit_dir / f.relative).string() << '\n';
    }
    const Activation activation{.start = opts.start_units, .restart = opts.restart_units};
    if (needs_service_manager(*installed, activation)) {
      if (!live) {
        out << "units: skipped daemon-reload and start/restart: --root " << root.string()
            << " is not the running system\n";
      } else if (auto manager = systemd::connect_system_bus(); !manager) {
        record(std::move(manager).error().context(
            "failed to reach systemd for daemon-reload (no system D-Bus; run on the instance, or use --root for an "
            "image build)"));
      } else if (auto done = activate(manager->get(), *installed, activation)) {
        for (const auto& line : *done) out << "units: " << line << '\n';
      } else {
        record(done.error());
      }
    }
  }
  out.flush();
  return first_failure ? first_failure->exit_code() : exit_code::ok;
}

}  // namespace kn::bootstrap

#include "bootstrap/unit_installer.hpp"

#include "bootstrap/template_renderer.hpp"
#include "core/atomic_file.hpp"
#include "core/logging.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace kn::bootstrap {
namespace {

namespace fs = std::filesystem;

// systemd.unit(5): the unit types a unit directory may hold.
constexpr std::array<std::string_view, 11> kUnitSuffixes{".service", ".socket", ".device", ".mount", ".automount",
                                                         ".swap",    ".target", ".path",   ".timer", ".slice",
                                                         ".scope"};

struct Pending {
  RenderedUnit unit;
  fs::path target;
  std::string text;
};

std::vector<fs::directory_entry> sorted_entries(const fs::path& dir, std::error_code& ec) {
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  std::ranges::sort(entries, {}, [](const fs::directory_entry& e) { return e.path().filename().string(); });
  return entries;
}

Failure io_error(std::string_view what, const fs::path& path, const std::error_code& ec) {
  return fail(Errc::file_io, "failed to " + std::string(what) + " " + path.string() + ": " + ec.message());
}

}  // namespace

bool InstallReport::any_changed() const {
  return std::ranges::any_of(files, &RenderedUnit::changed);
}

bool has_unit_suffix(std::string_view name) {
  return std::ranges::any_of(kUnitSuffixes, [&](std::string_view s) { return name.size() > s.size() && name.ends_with(s); });
}

Result<InstallReport> install_unit_templates(const fs::path& templates_dir, const fs::path& unit_dir,
                                             const InstanceMetadata& metadata) {
  auto logger = log::get("bootstrap");
  InstallReport report;
  std::error_code ec;
  if (!fs::is_directory(templates_dir, ec)) {
    logger->debug("no unit templates: {} is not a directory", templates_dir.string());
    return report;
  }
  report.templates_found = true;

  std::vector<Pending> pending;
  auto render_one = [&](const fs::path& source, const fs::path& relative, std::string unit) -> Status {
    auto text = read_file(source);
    if (!text) return text.error();
    if (!*text) return io_error("read", source, std::make_error_code(std::errc::no_such_file_or_directory));
    auto rendered = render_unit_template(**text, metadata, source.string());
    if (!rendered) return rendered.error();
    pending.push_back(Pending{RenderedUnit{relative, std::move(unit)}, unit_dir / relative, std::move(*rendered)});
    return {};
  };

  auto entries = sorted_entries(templates_dir, ec);
  if (ec) return io_error("list", templates_dir, ec);
  for (const auto& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with('.')) continue;  // editor and atomic-write leftovers
    if (entry.is_regular_file(ec) && has_unit_suffix(name)) {
      if (auto st = render_one(entry.path(), name, name); !st) return st.error();
    } else if (entry.is_directory(ec) && name.ends_with(".d") && has_unit_suffix(name.substr(0, name.size() - 2))) {
      const std::string unit = name.substr(0, name.size() - 2);
      auto dropins = sorted_entries(entry.path(), ec);
      if (ec) return io_error("list", entry.path(), ec);
      for (const auto& dropin : dropins) {
        const std::string file = dropin.path().filename().string();
        if (file.starts_with('.')) continue;
        if (dropin.is_regular_file(ec) && file.ends_with(".conf")) {
          if (auto st = render_one(dropin.path(), fs::path(name) / file, unit); !st) return st.error();
        } else {
          report.skipped.push_back((fs::path(name) / file).string());
        }
      }
    } else {
      report.skipped.push_back(name);
    }
  }
  for (const auto& s : report.skipped) {
    logger->warn("skipping {} in {}: neither a unit (<name>.service, .mount, ...) nor a drop-in (<unit>.d/*.conf)", s,
                 templates_dir.string());
  }

  // Everything rendered: now write what differs.
  for (auto& p : pending) {
    auto current = read_file(p.target);
    if (!current) return current.error();
    p.unit.changed = !*current || **current != p.text;
    if (p.unit.changed) {
      if (auto st = write_file_atomically(p.target, p.text, FileOwnership{.mode = 0644}); !st) return st.error();
      logger->info("rendered {} from {}", p.target.string(), (templates_dir / p.unit.relative).string());
    }
    report.files.push_back(std::move(p.unit));
  }
  return report;
}

bool needs_service_manager(const InstallReport& report, const Activation& activation) {
  return report.any_changed() || !activation.start.empty() || (!activation.restart.empty() && report.any_changed());
}

Result<std::vector<std::string>> activate(systemd::ServiceManager* manager, const InstallReport& report,
                                          const Activation& activation) {
  std::vector<std::string> done;
  if (!needs_service_manager(report, activation)) return done;
  if (manager == nullptr) throw std::logic_error("activate() needs a service manager");
  if (report.any_changed()) {
    if (auto st = manager->daemon_reload(); !st) return std::move(st).error().context("failed to reload systemd");
    done.emplace_back("daemon-reload");
  }
  for (const auto& unit : activation.start) {
    // Queued, not awaited: see systemd::JobWait (kontena-bootstrap.service runs Before=docker).
    if (auto st = manager->start_unit(unit, systemd::JobWait::queued); !st) {
      return std::move(st).error().context("failed to start " + unit);
    }
    done.push_back("queued start of " + unit);
  }
  if (report.any_changed()) {
    for (const auto& unit : activation.restart) {
      if (auto st = manager->restart_unit(unit, systemd::JobWait::queued); !st) {
        return std::move(st).error().context("failed to restart " + unit);
      }
      done.push_back("queued restart of " + unit);
    }
  }
  return done;
}

}  // namespace kn::bootstrap

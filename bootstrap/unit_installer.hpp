// Unit templates -> runtime units: renders every unit and drop-in of the templates directory
// into the unit directory (normally /run/systemd/system, which outranks /etc and /usr and is
// emptied at reboot), then tells systemd (daemon-reload, start, restart) the way
// coreos-cloudinit's `coreos.units[].command` does: files first, one daemon-reload if
// anything changed, then the commands in order.
//
// Layout of the templates directory (default /etc/kontena/templates):
//   <name>.<unit suffix>        a unit, e.g. efs.mount, app.service
//   <unit>.d/<name>.conf        a drop-in for <unit> (which may be a shipped unit)
// Anything else is skipped with a warning. Idempotent: a file is written only when its
// rendered text differs from what is on disk.
#pragma once

#include "bootstrap/metadata_env.hpp"
#include "systemd/service_manager.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kn::bootstrap {

struct RenderedUnit {
  std::filesystem::path relative;  // "efs.mount", "docker.service.d/10-az.conf"
  std::string unit;                // the unit it configures: "efs.mount", "docker.service"
  bool changed = false;
};

struct InstallReport {
  bool templates_found = false;  // the templates directory exists
  std::vector<RenderedUnit> files;
  std::vector<std::string> skipped;  // entries that are neither units nor drop-ins
  bool any_changed() const;
};

// True for names ending in a unit suffix systemd loads from a unit directory.
bool has_unit_suffix(std::string_view name);

// Renders every template; on the first failure nothing is written (all templates render
// before any file is replaced). Errors: Errc::template_invalid, Errc::file_io.
Result<InstallReport> install_unit_templates(const std::filesystem::path& templates_dir,
                                             const std::filesystem::path& unit_dir, const InstanceMetadata& metadata);

struct Activation {
  std::vector<std::string> start;    // started every run (a no-op when already active)
  std::vector<std::string> restart;  // restarted only when this run changed a rendered file
};

// Lines for the user ("daemon-reload", "started efs.mount", ...). `manager` may be null
// only when nothing needs the service manager.
Result<std::vector<std::string>> activate(systemd::ServiceManager* manager, const InstallReport& report,
                                          const Activation& activation);

// Whether activate() would talk to the service manager.
bool needs_service_manager(const InstallReport& report, const Activation& activation);

}  // namespace kn::bootstrap

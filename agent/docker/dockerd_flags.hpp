// Finds `--label` flags given to dockerd. dockerd refuses an option given both as a flag and
// in daemon.json ("the following directives are specified both as a flag and in the
// configuration file"), at start and on every reload, so a "labels" key the agent writes
// would stop dockerd or make it ignore reloads while such flags exist
// (https://docs.docker.com/config/daemon/troubleshoot/).
//
// Where flags come from: the running dockerd's command line (/proc/PID/cmdline), and on
// Flatcar the DOCKER_OPTS variable that docker.service expands into its ExecStart, set in
// drop-ins (https://www.flatcar.org/docs/latest/container-runtimes/customizing-docker/).
#pragma once

#include "core/error.hpp"

#include <filesystem>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kn::docker {

struct LabelFlag {
  std::string value;  // "key=value" as given
  std::string where;  // "dockerd (pid 123) command line" or "/etc/systemd/system/docker.service.d/x.conf line 3"
};

// The values of `--label V` and `--label=V` in an argument vector.
std::vector<std::string> label_flags_in_args(std::span<const std::string> args);

// Splits a systemd Environment= value into assignments (double and single quotes group,
// backslash escapes the next character), e.g. `"DOCKER_OPTS=--label a=b" X=1`.
std::vector<std::string> split_environment_assignments(std::string_view value);

// --label flags in DOCKER_OPTS set by Environment= lines of docker.service drop-ins under
// <root>/etc/systemd/system/docker.service.d/*.conf and <root>/run/systemd/system/docker.service.d/*.conf.
// Unreadable drop-ins are skipped (systemd would fail on them itself).
std::vector<LabelFlag> label_flags_in_dropins(const std::filesystem::path& root);

// The argument vector of a running process (/proc/PID/cmdline). Errc::file_io when it is gone.
Result<std::vector<std::string>> process_args(pid_t pid);

// --label flags on the command line of process `pid`.
Result<std::vector<LabelFlag>> label_flags_of_process(pid_t pid);

// The daemon.json keys set by the flags in an argument vector (`--host`/`-H` -> "hosts",
// `--label` -> "labels", `--storage-driver` -> "storage-driver", ...): dockerd maps each
// flag to the file key of the same option and refuses a file that sets one of them.
std::vector<std::string> config_keys_of_flags(std::span<const std::string> args);

// Errc::docker_config_invalid naming the keys of `file` that dockerd (pid) also has as flags.
Failure flag_key_conflict(std::span<const std::string> keys, pid_t pid, const std::filesystem::path& file);

// One Errc::docker_config_invalid failure that lists the flags and gives the fix; `file`
// is the daemon.json the agent was about to write.
Failure label_flag_conflict(std::span<const LabelFlag> flags, const std::filesystem::path& file);

}  // namespace kn::docker

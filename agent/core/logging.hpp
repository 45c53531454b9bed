// Logging setup: one named spdlog logger per subsystem ("imds", "docker", "master",
// "systemd", "config", "labels"), all writing to one sink: stderr here; the binaries install
// the journal sink instead when systemd connects them to it (systemd/journal_log.hpp).
//
// Secrets (tokens) are never passed to a logger; see tests/imds/imds_client_test.cpp.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string_view>

namespace kn::log {

// Installs the stderr sink and `level` for every logger created afterwards (and existing
// ones). Safe to call more than once.
void setup(spdlog::level::level_enum level);

// Parses "trace|debug|info|warn|error"; anything else maps to info.
spdlog::level::level_enum parse_level(std::string_view text);

// The logger of a subsystem, created on first use with the current sinks.
std::shared_ptr<spdlog::logger> get(std::string_view subsystem);

// Replaces the sinks (tests attach an ostream sink to assert on log lines).
void set_sink(spdlog::sink_ptr sink, spdlog::level::level_enum level);

}  // namespace kn::log

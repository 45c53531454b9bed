// Logging setup: one named spdlog logger per subsystem ("imds", "docker", "master",
// "systemd", "config", "labels"), all writing to one sink: the journal when started by
// systemd with stderr connected to it ($JOURNAL_STREAM), otherwise stderr.
//
// Secrets (tokens) are never passed to a logger; see tests/unit/imds_client_test.cpp.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string_view>

namespace kn::log {

// Installs the sinks and level for every logger created afterwards (and existing ones).
// `identifier` is the journal's SYSLOG_IDENTIFIER. Safe to call more than once.
void setup(std::string_view identifier, spdlog::level::level_enum level);

// Parses "trace|debug|info|warn|error"; anything else maps to info.
spdlog::level::level_enum parse_level(std::string_view text);

// The logger of a subsystem, created on first use with the current sinks.
std::shared_ptr<spdlog::logger> get(std::string_view subsystem);

// Replaces the sinks (tests attach an ostream sink to assert on log lines).
void set_sink(spdlog::sink_ptr sink, spdlog::level::level_enum level);

}  // namespace kn::log

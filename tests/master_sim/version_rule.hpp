// The master's agent version check: the agent's Kontena-Version must satisfy the RubyGems
// requirement "~> MAJOR.MINOR.0" built from the master version (a fourth part such as
// ".dev" is appended). So the major.minor must match, any patch level passes, and a
// pre-release below MAJOR.MINOR.0 (e.g. "1.5.0.rc1" for a 1.5.x master) fails.
// reference/kontena-protocol.md section 0 ([k] server/app/middlewares/websocket_backend.rb).
#pragma once

#include <string>
#include <string_view>

namespace kn::master_sim {

// "~> 1.5.0" for "1.5.4", "~> 1.6.0.dev" for "1.6.0.dev".
std::string version_requirement(std::string_view master_version);

// True when `agent_version` satisfies version_requirement(master_version) with RubyGems
// ordering (numeric segments compare as numbers, a letter segment sorts before any number).
// A missing or malformed agent version is incompatible.
bool agent_version_compatible(std::string_view master_version, std::string_view agent_version);

}  // namespace kn::master_sim

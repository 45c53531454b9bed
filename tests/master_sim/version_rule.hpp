// The master's agent version check: the agent's Kontena-Version must satisfy the RubyGems
// requirement "~> MAJOR.MINOR.0" built from the master version (a fourth part such as
// ".dev" is appended). So the major.minor must match, any patch level passes, and a
// pre-release below MAJOR.MINOR.0 (e.g. "1.5.0.rc1" for a 1.5.x master) fails.
// docs/protocol.md (kontena v1.5.4: server/app/middlewares/websocket_backend.rb).
#pragma once

#include <string>
#include <string_view>

namespace kn::master_sim {

// "~> 1.5.0" for "1.5.4", "~> 1.6.0.dev" for "1.6.0.dev".
std::string version_requirement(std::string_view master_version);

// What the master makes of an agent's Kontena-Version: Gem::Dependency#match? with
// "~> MAJOR.MINOR.0". A pre-release agent ("1.5.4.rc1", any letter) fails unless the
// requirement is itself a pre-release (a ".dev" master). A string Gem::Version refuses
// ("latest") makes match? raise, which websocket_backend.rb#on_open only logs: `malformed`.
// An empty version reads as "0" and is incompatible.
enum class AgentVersion { compatible, incompatible, malformed };
AgentVersion check_agent_version(std::string_view master_version, std::string_view agent_version);

// check_agent_version(...) == compatible.
bool agent_version_compatible(std::string_view master_version, std::string_view agent_version);

}  // namespace kn::master_sim

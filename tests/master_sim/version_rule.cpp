#include "version_rule.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>
#include <variant>
#include <vector>

namespace kn::master_sim {
namespace {

using Segment = std::variant<long long, std::string>;  // number or letters
using Segments = std::vector<Segment>;

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Gem::Version: digits first, then dot-separated alphanumeric parts; "-" means ".pre.".
std::optional<Segments> parse(std::string_view text) {
  std::string v(text);
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  while (!v.empty() && v.back() == ' ') v.pop_back();
  if (v.empty() || !is_digit(v.front())) return std::nullopt;
  std::string expanded;
  for (char c : v) {
    if (c == '-') {
      expanded += ".pre.";
    } else if (c == '.' || is_alnum(c)) {
      expanded += c;
    } else {
      return std::nullopt;
    }
  }
  if (expanded.find("..") != std::string::npos || expanded.back() == '.') return std::nullopt;
  Segments out;
  std::size_t i = 0;
  while (i < expanded.size()) {
    if (expanded[i] == '.') {
      ++i;
      continue;
    }
    std::size_t j = i;
    if (is_digit(expanded[i])) {
      while (j < expanded.size() && is_digit(expanded[j])) ++j;
      if (j - i > 17) return std::nullopt;
      out.emplace_back(std::stoll(expanded.substr(i, j - i)));
    } else {
      while (j < expanded.size() && std::isalpha(static_cast<unsigned char>(expanded[j])) != 0) ++j;
      out.emplace_back(expanded.substr(i, j - i));
    }
    i = j;
  }
  return out;
}

// Release part: the segments before the first letter segment.
Segments release_of(const Segments& s) {
  Segments out;
  for (const auto& x : s) {
    if (std::holds_alternative<std::string>(x)) break;
    out.push_back(x);
  }
  return out;
}

// Gem::Version#canonical_segments: trailing zeros dropped from the release and the
// pre-release parts separately.
Segments canonical(const Segments& s) {
  Segments release = release_of(s);
  Segments pre(s.begin() + static_cast<std::ptrdiff_t>(release.size()), s.end());
  auto trim = [](Segments& part) {
    while (!part.empty() && std::holds_alternative<long long>(part.back()) && std::get<long long>(part.back()) == 0) {
      part.pop_back();
    }
  };
  trim(release);
  trim(pre);
  release.insert(release.end(), pre.begin(), pre.end());
  return release;
}

int compare(const Segments& a_in, const Segments& b_in) {
  const Segments a = canonical(a_in);
  const Segments b = canonical(b_in);
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Segment x = i < a.size() ? a[i] : Segment{0LL};
    const Segment y = i < b.size() ? b[i] : Segment{0LL};
    if (x == y) continue;
    const bool xs = std::holds_alternative<std::string>(x);
    const bool ys = std::holds_alternative<std::string>(y);
    if (xs && !ys) return -1;
    if (!xs && ys) return 1;
    if (xs) return std::get<std::string>(x) < std::get<std::string>(y) ? -1 : 1;
    return std::get<long long>(x) < std::get<long long>(y) ? -1 : 1;
  }
  return 0;
}

// Gem::Version#bump: drop the pre-release part, drop the last segment (if more than one),
// increment the new last one. "1.5.0" -> "1.6".
Segments bump(const Segments& s) {
  Segments r = release_of(s);
  if (r.size() > 1) r.pop_back();
  if (!r.empty()) r.back() = std::get<long long>(r.back()) + 1;
  return r;
}

}  // namespace

std::string version_requirement(std::string_view master_version) {
  // major.minor, then ".0", then any fourth part as is.
  std::vector<std::string> parts;
  std::string current;
  for (char c : master_version) {
    if (c == '.') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  std::string out = "~> ";
  out += parts[0];
  if (parts.size() > 1) out += "." + parts[1];
  out += ".0";
  for (std::size_t i = 3; i < parts.size(); ++i) out += "." + parts[i];
  return out;
}

AgentVersion check_agent_version(std::string_view master_version, std::string_view agent_version) {
  // Gem::Version::ANCHORED_VERSION_PATTERN; blank means "0".
  static const std::regex pattern(R"(^\s*([0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*$)");
  const std::string text(agent_version);
  if (!std::regex_match(text, pattern)) return AgentVersion::malformed;
  const bool blank = std::all_of(text.begin(), text.end(), [](char c) { return c == ' '; });
  const std::string requirement = version_requirement(master_version).substr(3);
  const auto required = parse(requirement);
  const auto agent = parse(blank ? std::string_view("0") : std::string_view(text));
  if (!required || !agent) return AgentVersion::malformed;
  auto has_letter = [](std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
  };
  // Gem::Dependency#match?: a pre-release version only matches a pre-release requirement.
  if (has_letter(text) && !has_letter(requirement)) return AgentVersion::incompatible;
  // "~>": agent >= required and agent's release < required bumped.
  const bool ok = compare(*agent, *required) >= 0 && compare(release_of(*agent), bump(*required)) < 0;
  return ok ? AgentVersion::compatible : AgentVersion::incompatible;
}

bool agent_version_compatible(std::string_view master_version, std::string_view agent_version) {
  return check_agent_version(master_version, agent_version) == AgentVersion::compatible;
}

}  // namespace kn::master_sim

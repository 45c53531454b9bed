#include "core/labels.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace kn {
namespace {

// dockerd rejects these prefixes, in any case (moby daemon/pkg/opts ValidateLabel).
constexpr std::array<std::string_view, 3> kReservedPrefixes{"com.docker.", "io.docker.", "org.dockerproject."};

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

bool key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_' || c == '/';
}

bool value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != ',' && c != '"' && c != '\'' && c != '\\';
}

}  // namespace

Status validate_label(const Label& label) {
  const auto text = "'" + label.str() + "'";
  if (label.key.empty()) return fail(Errc::label_invalid, "invalid label " + text + ": empty key; use key=value");
  for (const auto prefix : kReservedPrefixes) {
    if (starts_with_icase(label.key, prefix)) {
      return fail(Errc::label_invalid, "invalid label " + text + ": the prefix '" + std::string(prefix) +
                                           "' is reserved by Docker; choose another key");
    }
  }
  if (!std::ranges::all_of(label.key, key_char)) {
    return fail(Errc::label_invalid, "invalid label " + text +
                                         ": keys may hold only letters, digits and . - _ /; rename the key");
  }
  if (!std::ranges::all_of(label.value, value_char)) {
    return fail(Errc::label_invalid, "invalid label " + text +
                                         ": values may not hold whitespace, commas, quotes or backslashes");
  }
  return {};
}

Result<Label> parse_label(std::string_view item) {
  const auto eq = item.find('=');
  if (eq == std::string_view::npos) {
    return fail(Errc::label_invalid, "invalid label '" + std::string(item) + "': missing '='; use key=value");
  }
  Label label{std::string(item.substr(0, eq)), std::string(item.substr(eq + 1))};
  if (auto st = validate_label(label); !st) return st.error();
  return label;
}

Result<LabelSet> LabelSet::parse(std::span<const std::string> items) {
  LabelSet set;
  for (const auto& item : items) {
    auto label = parse_label(item);
    if (!label) return label.error();
    if (auto st = set.add(std::move(*label)); !st) return st.error();
  }
  return set;
}

Status LabelSet::add(Label label) {
  if (auto st = validate_label(label); !st) return st;
  if (auto current = get(label.key)) {
    if (*current == label.value) return {};
    return fail(Errc::label_invalid, "invalid labels: '" + label.key + "' has two values, '" + std::string(*current) +
                                         "' and '" + label.value + "'; keep one");
  }
  items_.push_back(std::move(label));
  return {};
}

std::optional<std::string> LabelSet::assign(Label label) {
  auto it = std::ranges::find(items_, label.key, &Label::key);
  if (it == items_.end()) {
    items_.push_back(std::move(label));
    return std::nullopt;
  }
  return std::exchange(it->value, std::move(label.value));
}

std::optional<std::string_view> LabelSet::get(std::string_view key) const {
  auto it = std::ranges::find(items_, key, &Label::key);
  if (it == items_.end()) return std::nullopt;
  return std::string_view(it->value);
}

std::vector<std::string> LabelSet::strings() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& l : items_) out.push_back(l.str());
  return out;
}

}  // namespace kn

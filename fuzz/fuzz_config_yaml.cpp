// The two YAML files a user writes: /etc/kontena/agent.yml (core/settings.hpp Settings::load)
// and the `render` values file (bootstrap/values_file.hpp). The same bytes go to both.
// Properties: an accepted agent.yml describes itself (--print-config) without any secret
// setting's value; an accepted values file holds only labels that pass the label rules and
// only template names that stay inside /etc/kontena/templates.
#include "bootstrap/values_file.hpp"
#include "core/labels.hpp"
#include "core/logging.hpp"
#include "core/settings.hpp"
#include "fuzz_check.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

using namespace kn;

namespace {

// The parsers read files: one scratch file per fuzzing process, removed at exit.
struct ScratchFile {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("kn-fuzz-config-" + std::to_string(::getpid()) + ".yml");
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  void write(const std::uint8_t* data, std::size_t size) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();
  static const ScratchFile scratch;
  scratch.write(data, size);

  config::Sources sources;
  sources.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  sources.default_config = scratch.path.string();
  if (auto settings = config::Settings::load(sources)) {
    const std::string described = settings->describe(config::Scope::both);
    std::string public_values;
    for (const auto& spec : config::option_table()) {
      if (!spec.secret) public_values += settings->get(spec.key).value_or("") + "\n";
    }
    for (const auto& spec : config::option_table()) {
      const auto value = settings->get(spec.key);
      if (!spec.secret || !value || value->size() < 8 || public_values.find(*value) != std::string::npos) continue;
      fuzz::check(described.find(*value) == std::string::npos, "--print-config never shows a secret", spec.key);
    }
  }

  if (auto values = bootstrap::load_values_file(scratch.path)) {
    for (const auto& label : values->labels.items()) {
      fuzz::check(validate_label(label).has_value(), "a values file's labels pass the label rules", label.str());
    }
    for (const auto& t : values->templates) {
      const std::filesystem::path name(t.name);
      fuzz::check(!t.name.empty() && name.is_relative() && t.name.find("..") == std::string::npos,
                  "a template name stays inside the templates folder", t.name);
    }
  }
  return 0;
}

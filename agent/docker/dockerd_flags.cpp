#include "docker/dockerd_flags.hpp"

#include "core/atomic_file.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace kn::docker {
namespace {

constexpr std::string_view kLabelFlag = "--label";
constexpr std::string_view kOptsVariable = "DOCKER_OPTS=";
// systemd reads drop-ins from these directories (and /usr/lib, which holds no user flags).
// https://www.freedesktop.org/software/systemd/man/systemd.unit.html
constexpr std::array<std::string_view, 2> kDropinDirs{"etc/systemd/system/docker.service.d",
                                                      "run/systemd/system/docker.service.d"};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Unquoted $DOCKER_OPTS in ExecStart= is split at whitespace into separate arguments.
std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  for (char c : text) {
    if (is_space(c)) {
      if (!current.empty()) words.push_back(std::exchange(current, {}));
    } else {
      current += c;
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

// Flags whose daemon.json key is not the flag's own name (moby cmd/dockerd/config*.go: the
// names of "named" list options). Every other flag uses its name as the key.
constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kIrregularKeys{{
    {"host", "hosts"},
    {"label", "labels"},
    {"add-runtime", "runtimes"},
    {"log-opt", "log-opts"},
    {"storage-opt", "storage-opts"},
    {"exec-opt", "exec-opts"},
    {"dns-opt", "dns-opts"},
    {"insecure-registry", "insecure-registries"},
    {"registry-mirror", "registry-mirrors"},
    {"default-ulimit", "default-ulimits"},
    {"authorization-plugin", "authorization-plugins"},
    {"default-address-pool", "default-address-pools"},
    {"node-generic-resource", "node-generic-resources"},
    {"cluster-store-opt", "cluster-store-opts"},
}};

}  // namespace

std::vector<std::string> config_keys_of_flags(std::span<const std::string> args) {
  std::vector<std::string> keys;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") break;
    std::string_view name;
    if (arg.starts_with("--")) {
      name = arg.substr(2, arg.find('=') == std::string_view::npos ? std::string_view::npos : arg.find('=') - 2);
    } else if (arg.starts_with("-H")) {
      name = "host";  // the only shorthand with a file key
    } else {
      continue;
    }
    std::string key(name);
    for (const auto& [flag, file_key] : kIrregularKeys) {
      if (flag == name) key = file_key;
    }
    if (!key.empty() && std::ranges::find(keys, key) == keys.end()) keys.push_back(std::move(key));
  }
  return keys;
}

Failure flag_key_conflict(std::span<const std::string> keys, pid_t pid, const std::filesystem::path& file) {
  std::string list;
  for (const auto& k : keys) list += (list.empty() ? "\"" : ", \"") + k + "\"";
  return fail(Errc::docker_config_invalid,
              "failed to merge labels into " + file.string() + ": it sets " + list +
                  ", which dockerd (pid " + std::to_string(pid) +
                  ") also has as command-line flags; dockerd refuses such a file (it ignores reloads and would not "
                  "start again), so nothing was written. Fix: remove those keys from the file or the flags from dockerd");
}

std::vector<std::string> label_flags_in_args(std::span<const std::string> args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") break;  // what follows is not a flag
    if (arg == kLabelFlag) {
      if (i + 1 < args.size()) out.push_back(args[++i]);
    } else if (arg.starts_with(kLabelFlag) && arg.size() > kLabelFlag.size() && arg[kLabelFlag.size()] == '=') {
      out.emplace_back(arg.substr(kLabelFlag.size() + 1));
    }
  }
  return out;
}

std::vector<std::string> split_environment_assignments(std::string_view value) {
  std::vector<std::string> out;
  std::string current;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < value.size()) {
        current += value[++i];
      } else {
        current += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < value.size()) {
      current += value[++i];
      in_word = true;
    } else if (is_space(c)) {
      if (in_word) out.push_back(std::exchange(current, {}));
      in_word = false;
    } else {
      current += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(std::move(current));
  return out;
}

std::vector<LabelFlag> label_flags_in_dropins(const std::filesystem::path& root) {
  std::vector<LabelFlag> out;
  for (const auto dir_name : kDropinDirs) {
    const auto dir = root / dir_name;
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".conf") files.push_back(entry.path());
    }
    std::ranges::sort(files);  // systemd applies drop-ins in name order
    for (const auto& file : files) {
      auto text = read_file(file);
      if (!text || !*text) continue;
      std::string_view rest = **text;
      int line_no = 0;
      while (!rest.empty()) {
        const auto nl = rest.find('\n');
        const auto line = trim(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        ++line_no;
        constexpr std::string_view kEnvironment = "Environment=";
        if (!line.starts_with(kEnvironment)) continue;
        for (const auto& assignment : split_environment_assignments(line.substr(kEnvironment.size()))) {
          if (!assignment.starts_with(kOptsVariable)) continue;
          const auto words = split_words(std::string_view(assignment).substr(kOptsVariable.size()));
          for (auto& value : label_flags_in_args(words)) {
            out.push_back({std::move(value), file.string() + " line " + std::to_string(line_no)});
          }
        }
      }
    }
  }
  return out;
}

Result<std::vector<std::string>> process_args(pid_t pid) {
  const std::filesystem::path path = "/proc/" + std::to_string(pid) + "/cmdline";
  auto text = read_file(path);
  if (!text) return text.error();
  if (!*text) return fail(Errc::file_io, "failed to read " + path.string() + ": no such process");
  std::vector<std::string> args;
  std::string_view rest = **text;
  while (!rest.empty()) {
    const auto nul = rest.find('\0');
    args.emplace_back(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view{} : rest.substr(nul + 1);
  }
  return args;
}

Result<std::vector<LabelFlag>> label_flags_of_process(pid_t pid) {
  auto args = process_args(pid);
  if (!args) return args.error();
  std::vector<LabelFlag> out;
  for (auto& value : label_flags_in_args(*args)) {
    out.push_back({std::move(value), "dockerd (pid " + std::to_string(pid) + ") command line"});
  }
  return out;
}

Failure label_flag_conflict(std::span<const LabelFlag> flags, const std::filesystem::path& file) {
  std::string list;
  for (const auto& f : flags) {
    if (!list.empty()) list += ", ";
    list += "--label " + f.value + " (" + f.where + ")";
  }
  return fail(Errc::docker_config_invalid,
              "failed to merge labels into " + file.string() + ": dockerd is given labels as flags: " + list +
                  "; dockerd refuses \"labels\" in the file while --label flags exist, so nothing was written. "
                  "Fix: remove the --label flags (from DOCKER_OPTS in the docker.service drop-in, then "
                  "systemctl daemon-reload && systemctl restart docker) and put those labels in KONTENA_NODE_LABELS");
}

}  // namespace kn::docker

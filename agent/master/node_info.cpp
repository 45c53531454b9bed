#include "master/node_info.hpp"

#include "core/atomic_file.hpp"
#include "master/node_stats.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace kn::master {
namespace {

std::string file_text(const char* path) {
  auto t = read_file(path);
  return t && *t ? **t : std::string();
}

std::string os_pretty_name() {
  const auto text = file_text("/etc/os-release");
  std::string_view rest(text);
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    if (line.starts_with("PRETTY_NAME=")) {
      line.remove_prefix(12);
      if (line.size() >= 2 && line.front() == '"' && line.back() == '"') line = line.substr(1, line.size() - 2);
      return std::string(line);
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return "Linux";
}

}  // namespace

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

nlohmann::json host_info() {
  nlohmann::json info = nlohmann::json::object();
  const auto mem = parse_meminfo(file_text("/proc/meminfo"));
  const auto cpu = parse_cpu(file_text("/proc/stat"));
  struct utsname u {};
  ::uname(&u);
  info["Name"] = host_name();
  info["NCPU"] = cpu ? cpu->cores : std::max(1U, std::thread::hardware_concurrency());
  info["MemTotal"] = mem.contains("MemTotal") ? mem.at("MemTotal") : 0;
  info["KernelVersion"] = std::string(u.release);
  info["Architecture"] = std::string(u.machine);
  info["OperatingSystem"] = os_pretty_name();
  info["OSType"] = "linux";
  return info;
}

nlohmann::json drivers_from_info(const nlohmann::json& info) {
  nlohmann::json drivers = {{"Volume", nlohmann::json::array()}, {"Network", nlohmann::json::array()}};
  if (!info.contains("Plugins") || !info["Plugins"].is_object()) return drivers;
  for (const char* kind : {"Volume", "Network"}) {
    const auto& plugins = info["Plugins"];
    if (!plugins.contains(kind) || !plugins[kind].is_array()) continue;
    for (const auto& name : plugins[kind]) {
      if (name.is_string()) drivers[kind].push_back({{"name", name}, {"version", nullptr}});
    }
  }
  return drivers;
}

nlohmann::json build_node_info(const NodeInfoInputs& in) {
  nlohmann::json info = in.docker_info && in.docker_info->is_object() ? *in.docker_info : host_info();
  info["Name"] = in.name;
  info["PublicIp"] = in.public_ip ? nlohmann::json(*in.public_ip) : nlohmann::json(nullptr);
  info["PrivateIp"] = in.private_ip ? nlohmann::json(*in.private_ip) : nlohmann::json(nullptr);
  info["AgentVersion"] = in.agent_version;
  info["Drivers"] = drivers_from_info(info);
  // Docker's labels first, the agent's replace any with the same key (they are what the
  // agent just applied to Docker, or would have).
  std::vector<std::string> labels;
  auto key_of = [](const std::string& l) { return l.substr(0, l.find('=')); };
  if (info.contains("Labels") && info["Labels"].is_array()) {
    for (const auto& l : info["Labels"]) {
      if (!l.is_string()) continue;
      const auto s = l.get<std::string>();
      const bool replaced = std::ranges::any_of(in.labels, [&](const std::string& own) { return key_of(own) == key_of(s); });
      if (!replaced) labels.push_back(s);
    }
  }
  labels.insert(labels.end(), in.labels.begin(), in.labels.end());
  info["Labels"] = labels;
  return info;
}

std::optional<std::string> first_private_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (auto* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_LOOPBACK) != 0 || (a->ifa_flags & IFF_UP) == 0) continue;
    char buf[INET_ADDRSTRLEN] = {};
    sockaddr_in sin{};
    std::memcpy(&sin, a->ifa_addr, sizeof sin);
    if (::inet_ntop(AF_INET, &sin.sin_addr, buf, sizeof buf) != nullptr) found = buf;
  }
  ::freeifaddrs(list);
  return found;
}

std::string derived_node_id(std::string_view seed) {
  const std::string input = "kontena-node-id:" + std::string(seed);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  ::SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  // Base32 (RFC 4648 alphabet) of the digest, 48 characters in 12 groups, like Docker's
  // engine ID (a libtrust key fingerprint).
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string chars;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char byte : digest) {
    buffer = (buffer << 8U) | byte;
    bits += 8;
    while (bits >= 5 && chars.size() < 48) {
      chars += kAlphabet[(buffer >> static_cast<unsigned>(bits - 5)) & 31U];
      bits -= 5;
    }
  }
  std::string id;
  for (std::size_t i = 0; i < 48; i += 4) {
    if (!id.empty()) id += ':';
    id += chars.substr(i, 4);
  }
  return id;
}

std::string host_identity_seed() {
  auto id = file_text("/etc/machine-id");
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id.empty() ? "hostname:" + host_name() : "machine-id:" + id;
}

}  // namespace kn::master

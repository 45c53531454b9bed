#include "app/master_options.hpp"

#include "core/atomic_file.hpp"

namespace kn::app {
namespace {

Result<std::string> read_token_file(const std::string& path, std::string_view what) {
  auto text = read_file(path);
  if (!text) {
    return fail(Errc::config_invalid, "failed to read the " + std::string(what) + " file " + path + ": " +
                                          text.error().message);
  }
  if (!*text) {
    return fail(Errc::config_invalid,
                "failed to read the " + std::string(what) + " file " + path + ": no such file (fix the path)");
  }
  std::string token = **text;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    return fail(Errc::config_invalid, "failed to read the " + std::string(what) + " file " + path + ": it is empty");
  }
  if (token.find_first_of("\r\n") != std::string::npos) {
    return fail(Errc::config_invalid,
                "failed to read the " + std::string(what) + " file " + path + ": it holds more than one line");
  }
  return token;
}

}  // namespace

Result<MasterToken> resolve_token(const config::Settings& settings, const config::EnvLookup& env) {
  if (auto t = settings.get("node-token"); t && !t->empty()) {
    return MasterToken{master::TokenKind::node, *t, settings.setting("node-token").origin};
  }
  if (auto path = settings.get("node-token-file")) {
    auto t = read_token_file(*path, "node token");
    if (!t) return t.error();
    return MasterToken{master::TokenKind::node, std::move(*t), *path};
  }
  if (auto t = settings.get("token"); t && !t->empty()) {
    return MasterToken{master::TokenKind::grid, *t, settings.setting("token").origin};
  }
  if (auto path = settings.get("token-file")) {
    auto t = read_token_file(*path, "grid token");
    if (!t) return t.error();
    return MasterToken{master::TokenKind::grid, std::move(*t), *path};
  }
  // systemd LoadCredential=kontena-token:... (systemd.exec(5) "Credentials").
  if (auto dir = env("CREDENTIALS_DIRECTORY"); dir && !dir->empty()) {
    const auto path = *dir + "/kontena-token";
    if (auto exists = read_file(path); exists && *exists) {
      auto t = read_token_file(path, "grid token credential");
      if (!t) return t.error();
      return MasterToken{master::TokenKind::grid, std::move(*t), path};
    }
  }
  return fail(Errc::config_invalid,
              "failed to find a token for the master: set KONTENA_TOKEN, KONTENA_TOKEN_FILE (--token-file), "
              "KONTENA_NODE_TOKEN or KONTENA_NODE_TOKEN_FILE, or give systemd LoadCredential=kontena-token:PATH");
}

master::TlsOptions tls_options(const config::Settings& settings) {
  return {.verify = settings.get_bool("ssl-verify"),
          .ca_file = settings.get("ssl-cert-file"),
          .hostname = settings.get("ssl-hostname")};
}

}  // namespace kn::app

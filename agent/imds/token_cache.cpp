#include "imds/token_cache.hpp"

namespace kn::imds {

std::optional<std::string_view> TokenCache::current() const {
  if (token_.empty() || clock_.now() + margin_ >= expires_) return std::nullopt;
  return std::string_view(token_);
}

void TokenCache::store(std::string token, std::chrono::seconds ttl) {
  token_ = std::move(token);
  expires_ = clock_.now() + ttl;
}

}  // namespace kn::imds

#include "tls.hpp"

namespace kn::master_sim {

Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls(const std::filesystem::path& cert_chain,
                                                                   const std::filesystem::path& key) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_chain.string(), ec);
  if (ec) {
    return fail(Errc::config_invalid, "failed to load TLS certificate " + cert_chain.string() + ": " + ec.message() +
                                          "; pass a PEM chain with --tls-cert");
  }
  ctx->use_private_key_file(key.string(), ssl::context::pem, ec);
  if (ec) {
    return fail(Errc::config_invalid, "failed to load TLS key " + key.string() + ": " + ec.message() +
                                          "; pass the PEM key of --tls-cert with --tls-key");
  }
  return ctx;
}

}  // namespace kn::master_sim

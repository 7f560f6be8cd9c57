#include "dataplane/tls/server_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

#include "common/logging.h"
#include "dataplane/tls/ticket_keys.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::tls {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// TLS 1.2 suites: forward-secret AEAD only, AES-128-GCM first (cheapest with AES-NI), ChaCha20 for
// clients without it. Every suite here has a key of at least 128 bits.
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
constexpr const char* kCipherSuites =
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
constexpr const char* kGroups = "X25519:P-256:P-384";
// Same value on every context, so that SSL_set_SSL_CTX keeps sessions resumable and OpenSSL does
// not refuse resumption on contexts that verify peers ("session id context uninitialized").
constexpr unsigned char kSessionIdContext[] = "siteplane";
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

std::string openSslError(const std::string& what) {
  std::string message = what;
  unsigned long code = ERR_get_error();
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    message += ": ";
    message += buffer;
  }
  ERR_clear_error();
  return message;
}

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLength, const unsigned char* in,
               unsigned int inLength, void*) noexcept {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outLength, kAlpnHttp11, sizeof kAlpnHttp11, in, inLength) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  // A client that offers only h2 still gets HTTP/1.1 without ALPN rather than a failed handshake.
  return SSL_TLSEXT_ERR_NOACK;
}

// Client certificates are verified, but a failure never aborts the handshake: IIS answers
// 403.16/403.17 at the HTTP level, which tells the user far more than a TLS alert. The session
// records what went wrong for the HTTP layer.
int verifyClientCertificate(int preverified, X509_STORE_CTX* store) noexcept {
  if (!preverified) {
    auto* ssl = static_cast<SSL*>(
        X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (auto* session = ssl ? TlsSession::fromSsl(ssl) : nullptr)
      session->recordVerifyError(X509_STORE_CTX_get_error(store));
  }
  return 1;
}

std::string thumbprintOf(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(certificate, EVP_sha1(), digest, &length) != 1) return "";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

Result<std::vector<X509Ptr>> readCertificates(const std::string& pem, const std::string& what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return Result<std::vector<X509Ptr>>::error(openSslError("out of memory"));
  std::vector<X509Ptr> out;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(certificate, X509_free);
  // The loop ends on "no start line" once the PEM is exhausted; anything else is a broken block.
  unsigned long last = ERR_peek_last_error();
  if (last != 0 && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    return Result<std::vector<X509Ptr>>::error(openSslError(what + ": unparseable PEM certificate"));
  }
  ERR_clear_error();
  if (out.empty()) return Result<std::vector<X509Ptr>>::error(what + ": no PEM certificate found");
  return out;
}

int toOpenSsl(table::TlsVersion version) {
  return version == table::TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

int clientHello(SSL* ssl, int* alert, void*) noexcept {
  auto* session = TlsSession::fromSsl(ssl);
  if (!session) return SSL_CLIENT_HELLO_SUCCESS;  // not ours (never happens): leave it to OpenSSL
  return session->onClientHello(alert) ? SSL_CLIENT_HELLO_SUCCESS : SSL_CLIENT_HELLO_ERROR;
}

}  // namespace

Result<std::shared_ptr<const ServerContext>> ServerContext::create(
    const ServerContextOptions& options) {
  using Out = Result<std::shared_ptr<const ServerContext>>;
  const std::string what = "certificate " + options.name;
  ERR_clear_error();
  // Either decoded objects (shared: SSL_CTX_use_* and add1_chain_cert take references) or PEM.
  std::vector<X509Ptr> chain;
  KeyPtr key(nullptr, EVP_PKEY_free);
  if (!options.certificateChain.empty()) {
    if (!options.privateKey) return Out::error(what + ": a decoded certificate needs its decoded key");
    for (X509* certificate : options.certificateChain) {
      if (!certificate) return Out::error(what + ": missing certificate in the decoded chain");
      X509_up_ref(certificate);
      chain.emplace_back(certificate, X509_free);
    }
    EVP_PKEY_up_ref(options.privateKey);
    key.reset(options.privateKey);
  } else {
    auto decoded = readCertificates(options.certificateChainPem, what);
    if (!decoded) return decoded.status();
    chain = std::move(decoded).value();
    BioPtr keyBio(BIO_new_mem_buf(options.privateKeyPem.data(),
                                  static_cast<int>(options.privateKeyPem.size())),
                  BIO_free);
    key.reset(keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr) : nullptr);
    // The OpenSSL error text for a key says nothing secret, but keep the message generic anyway.
    if (!key) {
      ERR_clear_error();
      return Out::error(what + ": private key is not an unencrypted PEM key");
    }
  }

  const bool wantsClientCertificate =
      options.clientCertificate != table::ClientCertificateMode::kIgnore;
  if (wantsClientCertificate && options.clientCAPems.empty())
    return Out::error(what + ": clientCertificate Accept/Require needs at least one client CA");

  std::shared_ptr<ServerContext> context(new ServerContext());
  context->name_ = options.name;
  context->options_ = options;
  context->options_.privateKeyPem.clear();
  context->options_.certificateChain.clear();
  context->options_.privateKey = nullptr;
  context->ctx_ = SSL_CTX_new(TLS_server_method());
  SSL_CTX* ctx = context->ctx_;
  if (!ctx) return Out::error(openSslError(what + ": SSL_CTX_new failed"));

  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1)
    return Out::error(openSslError(what + ": certificate refused"));
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1)
      return Out::error(openSslError(what + ": intermediate certificate " + std::to_string(i) + " refused"));
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Out::error(what + ": private key does not match the certificate");
  }
  context->thumbprint_ = thumbprintOf(chain.front().get());

  SSL_CTX_set_min_proto_version(ctx, toOpenSsl(options.minVersion));
  if (SSL_CTX_set_cipher_list(ctx, kCipherList) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kCipherSuites) != 1 || SSL_CTX_set1_groups_list(ctx, kGroups) != 1)
    return Out::error(openSslError(what + ": cipher configuration refused"));
  // Server preference makes the cheap AES-128-GCM win over the client's AES-256 preference;
  // PRIORITIZE_CHACHA still gives ChaCha20 to clients that list it first (no AES hardware).
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // RELEASE_BUFFERS frees the 16 KiB record buffers of idle connections.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  // Stateless tickets only: no server-side session cache to lock or to grow with clients.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::callback);
  SSL_CTX_set_alpn_select_cb(ctx, &selectAlpn, nullptr);
  SSL_CTX_set_client_hello_cb(ctx, &clientHello, nullptr);

  if (wantsClientCertificate) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    if (!names) return Out::error(openSslError(what + ": out of memory"));
    SSL_CTX_set_client_CA_list(ctx, names);  // owns names from here on
    for (size_t i = 0; i < options.clientCAPems.size(); ++i) {
      auto cas = readCertificates(options.clientCAPems[i], what + ": client CA " + std::to_string(i));
      if (!cas) return cas.status();
      for (auto& ca : *cas) {
        if (X509_STORE_add_cert(store, ca.get()) != 1) ERR_clear_error();  // duplicates are fine
        X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca.get()));
        if (!name || !sk_X509_NAME_push(names, name)) {
          X509_NAME_free(name);
          return Out::error(openSslError(what + ": out of memory"));
        }
      }
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &verifyClientCertificate);
    SSL_CTX_set_verify_depth(ctx, 8);
  }
  logger("dataplane.tls")
      ->debug("context_created name={} thumbprint={} min_version={} client_certificate={}",
              options.name, context->thumbprint_,
              options.minVersion == table::TlsVersion::k1_3 ? "1.3" : "1.2",
              static_cast<int>(options.clientCertificate));
  return std::shared_ptr<const ServerContext>(std::move(context));
}

ServerContext::~ServerContext() {
  if (ctx_) SSL_CTX_free(ctx_);
}

int ServerContext::weakestCipherBits() const {
  // SSL_CTX_get_ciphers lists the TLS 1.3 suites and the TLS 1.2 cipher list together.
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx_);
  int weakest = 0;
  for (int i = 0; ciphers && i < sk_SSL_CIPHER_num(ciphers); ++i) {
    int bits = SSL_CIPHER_get_bits(sk_SSL_CIPHER_value(ciphers, i), nullptr);
    if (i == 0 || bits < weakest) weakest = bits;
  }
  return weakest;
}

bool ServerContext::applyTo(SSL* ssl) const noexcept {
  if (SSL_get_SSL_CTX(ssl) != ctx_ && SSL_set_SSL_CTX(ssl, ctx_) != ctx_) return false;
  SSL_set_min_proto_version(ssl, toOpenSsl(options_.minVersion));
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx_), SSL_CTX_get_verify_callback(ctx_));
  if (requestsClientCertificate()) {
    if (SSL_set1_verify_cert_store(ssl, SSL_CTX_get_cert_store(ctx_)) != 1) return false;
    STACK_OF(X509_NAME)* names = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(ctx_));
    if (!names) return false;
    SSL_set_client_CA_list(ssl, names);
  }
  return true;
}

}  // namespace siteplane::tls

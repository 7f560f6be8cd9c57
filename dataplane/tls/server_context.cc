#include "dataplane/tls/server_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <ctime>

#include "common/logging.h"
#include "common/openssl_ptr.h"
#include "dataplane/tls/ticket_keys.h"
#include "dataplane/tls/tls_session.h"

namespace siteplane::tls {
namespace {

using openssl::BioPtr;
using openssl::X509Ptr;
using KeyPtr = openssl::EvpPkeyPtr;
using CrlPtr = openssl::X509CrlPtr;

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

int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outLength,
               const unsigned char* in, unsigned int inLength, void*) noexcept {
  unsigned char* selected = nullptr;
  const TlsSession* session = TlsSession::fromSsl(ssl);
  if (session && session->acmeChallenge()) {
    // The challenge context was chosen because the client offered acme-tls/1 (RFC 8737 §3).
    if (SSL_select_next_proto(&selected, outLength, kAlpnAcmeTls, sizeof kAlpnAcmeTls, in,
                              inLength) != OPENSSL_NPN_NEGOTIATED)
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  if (SSL_select_next_proto(&selected, outLength, kAlpnHttp11, sizeof kAlpnHttp11, in, inLength) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  // A client that offers only h2 still gets HTTP/1.1 without ALPN rather than a failed handshake.
  return SSL_TLSEXT_ERR_NOACK;
}

// Every CRL siteplane has is loaded into the store, so "no CRL for this issuer" means the CA has
// none configured: its certificates are checked without revocation, not refused.
bool noCrlConfigured(int error) { return error == X509_V_ERR_UNABLE_TO_GET_CRL; }

// Client certificates are verified, but a failure never aborts the handshake: IIS answers
// 403.13/403.16/403.17 at the HTTP level, which tells the user far more than a TLS alert. The
// session records what went wrong for the HTTP layer.
int verifyDuringHandshake(int preverified, X509_STORE_CTX* store) noexcept {
  if (!preverified) {
    int error = X509_STORE_CTX_get_error(store);
    if (noCrlConfigured(error)) {
      X509_STORE_CTX_set_error(store, X509_V_OK);
      return 1;
    }
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (auto* session = ssl ? TlsSession::fromSsl(ssl) : nullptr) session->recordVerifyError(error);
  }
  return 1;
}

// The same rules for a verification outside a handshake: the worst error goes to the app data.
int collectVerifyError(int preverified, X509_STORE_CTX* store) noexcept {
  if (!preverified) {
    int error = X509_STORE_CTX_get_error(store);
    if (noCrlConfigured(error)) {
      X509_STORE_CTX_set_error(store, X509_V_OK);
      return 1;
    }
    auto* worst = static_cast<int*>(X509_STORE_CTX_get_app_data(store));
    *worst = worseVerifyError(*worst, error);
  }
  return 1;
}

// PEM when it says so, else DER (what `openssl ca -gencrl` and most CAs publish).
CrlPtr readCrl(const std::string& data) {
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return CrlPtr();
  X509_CRL* crl = data.find("-----BEGIN X509 CRL-----") != std::string::npos
                      ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)
                      : d2i_X509_CRL_bio(bio.get(), nullptr);
  ERR_clear_error();
  return CrlPtr(crl);
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
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Result<std::vector<X509Ptr>>::error(openSslError("out of memory"));
  std::vector<X509Ptr> out;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(certificate);
  // The loop ends on "no start line" once the PEM is exhausted; anything else is a broken block.
  unsigned long last = ERR_peek_last_error();
  if (last != 0 &&
      !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    return Result<std::vector<X509Ptr>>::error(
        openSslError(what + ": unparseable PEM certificate"));
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

// The CA of `caPems` that issued and signed `crl`, or why none did.
Status findCrlIssuer(X509_CRL* crl, const std::vector<X509Ptr>& cas, const std::string& what) {
  for (const auto& ca : cas) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca.get())) != 0) continue;
    EVP_PKEY* key = X509_get0_pubkey(ca.get());
    if (key && X509_CRL_verify(crl, key) == 1) return Status::ok();
    ERR_clear_error();
    return Status::error(what + ": the signature does not verify with the CA's key");
  }
  return Status::error(what + ": not issued by any of the site's client CAs");
}

Result<std::vector<X509Ptr>> readAllCas(const std::vector<std::string>& caPems,
                                        const std::string& what) {
  std::vector<X509Ptr> all;
  for (size_t i = 0; i < caPems.size(); ++i) {
    auto cas = readCertificates(caPems[i], what + ": client CA " + std::to_string(i));
    if (!cas) return cas.status();
    for (auto& ca : *cas) all.push_back(std::move(ca));
  }
  return all;
}

int64_t nextUpdateOf(X509_CRL* crl) {
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  struct tm when {};
  if (!next || ASN1_TIME_to_tm(next, &when) != 1) return 0;
  return static_cast<int64_t>(timegm(&when));
}

// The certificate chain and key: decoded objects (shared: SSL_CTX_use_* and add1_chain_cert take
// references) or PEM.
Status loadKeyPair(const ServerContextOptions& options, const std::string& what,
                   std::vector<X509Ptr>& chain, KeyPtr& key) {
  if (!options.certificateChain.empty()) {
    if (!options.privateKey)
      return Status::error(what + ": a decoded certificate needs its decoded key");
    for (X509* certificate : options.certificateChain) {
      if (!certificate) return Status::error(what + ": missing certificate in the decoded chain");
      X509_up_ref(certificate);
      chain.emplace_back(certificate);
    }
    EVP_PKEY_up_ref(options.privateKey);
    key.reset(options.privateKey);
    return Status::ok();
  }
  auto decoded = readCertificates(options.certificateChainPem, what);
  if (!decoded) return decoded.status();
  chain = std::move(decoded).value();
  BioPtr keyBio(BIO_new_mem_buf(options.privateKeyPem.data(),
                                static_cast<int>(options.privateKeyPem.size())));
  key.reset(keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr) : nullptr);
  // The OpenSSL error text for a key says nothing secret, but keep the message generic anyway.
  if (!key) {
    ERR_clear_error();
    return Status::error(what + ": private key is not an unencrypted PEM key");
  }
  return Status::ok();
}

Status useKeyPair(SSL_CTX* ctx, const std::vector<X509Ptr>& chain, EVP_PKEY* key,
                  const std::string& what) {
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1)
    return Status::error(openSslError(what + ": certificate refused"));
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1)
      return Status::error(
          openSslError(what + ": intermediate certificate " + std::to_string(i) + " refused"));
  }
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status::error(what + ": private key does not match the certificate");
  }
  return Status::ok();
}

// Versions, ciphers, groups, tickets and the callbacks every context shares.
Status configureProtocol(SSL_CTX* ctx, const ServerContextOptions& options,
                         const std::string& what) {
  SSL_CTX_set_min_proto_version(ctx, toOpenSsl(options.minVersion));
  if (SSL_CTX_set_cipher_list(ctx, kCipherList) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kCipherSuites) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1)
    return Status::error(openSslError(what + ": cipher configuration refused"));
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
  return Status::ok();
}

// The client CAs (advertised in the CertificateRequest and trusted) and their CRLs.
Status trustClientCAs(SSL_CTX* ctx, const ServerContextOptions& options, const std::string& what,
                      bool& checksRevocation) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  if (!names) return Status::error(openSslError(what + ": out of memory"));
  SSL_CTX_set_client_CA_list(ctx, names);  // owns names from here on
  auto cas = readAllCas(options.clientCAPems, what);
  if (!cas) return cas.status();
  for (auto& ca : *cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) ERR_clear_error();  // duplicates are fine
    X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca.get()));
    if (!name || !sk_X509_NAME_push(names, name)) {
      X509_NAME_free(name);
      return Status::error(openSslError(what + ": out of memory"));
    }
  }
  for (const auto& crl : options.clientCRLs) {
    CrlPtr parsed = readCrl(crl.data);
    if (!parsed) return Status::error(what + ": " + crl.name + ": not a PEM or DER X.509 CRL");
    if (auto issuer = findCrlIssuer(parsed.get(), *cas, what + ": " + crl.name); !issuer)
      return Status::error(issuer.message());
    if (X509_STORE_add_crl(store, parsed.get()) != 1) ERR_clear_error();
    checksRevocation = true;
  }
  // The leaf's issuer only: sites trust CAs that issue client certificates directly or name their
  // intermediates in clientCARefs, each with its own CRL.
  if (checksRevocation) X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &verifyDuringHandshake);
  SSL_CTX_set_verify_depth(ctx, 8);
  return Status::ok();
}

}  // namespace

ClientCertificateState clientCertificateStateOf(int verifyError) noexcept {
  switch (verifyError) {
    case X509_V_OK:
      return ClientCertificateState::kValid;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return ClientCertificateState::kExpired;
    // Revoked, or its status cannot be decided from the CRL the operator gave: the same answer
    // nginx gives for an expired CRL (refuse), as IIS's 403.13.
    case X509_V_ERR_CERT_REVOKED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
      return ClientCertificateState::kRevoked;
    default:
      return ClientCertificateState::kUntrusted;
  }
}

int worseVerifyError(int current, int next) noexcept {
  auto rank = [](int error) {
    switch (clientCertificateStateOf(error)) {
      case ClientCertificateState::kUntrusted:
        return 3;
      case ClientCertificateState::kRevoked:
        return 2;
      case ClientCertificateState::kExpired:
        return 1;
      default:
        return 0;
    }
  };
  return rank(next) > rank(current) ? next : current;
}

Status checkClientCrl(const ClientCrl& crl, const std::vector<std::string>& caPems,
                      int64_t* nextUpdate) {
  ERR_clear_error();
  CrlPtr parsed = readCrl(crl.data);
  if (!parsed) return Status::error(crl.name + ": not a PEM or DER X.509 CRL");
  auto cas = readAllCas(caPems, crl.name);
  if (!cas) return cas.status();
  if (nextUpdate) *nextUpdate = nextUpdateOf(parsed.get());
  return findCrlIssuer(parsed.get(), *cas, crl.name);
}

Result<std::shared_ptr<const ServerContext>> ServerContext::create(
    const ServerContextOptions& options) {
  using Out = Result<std::shared_ptr<const ServerContext>>;
  const std::string what = "certificate " + options.name;
  ERR_clear_error();
  std::vector<X509Ptr> chain;
  KeyPtr key;
  if (Status loaded = loadKeyPair(options, what, chain, key); !loaded) return loaded;

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
  if (Status used = useKeyPair(ctx, chain, key.get(), what); !used) return used;
  context->thumbprint_ = thumbprintOf(chain.front().get());
  if (Status configured = configureProtocol(ctx, options, what); !configured) return configured;
  if (wantsClientCertificate) {
    Status trusted = trustClientCAs(ctx, options, what, context->checksRevocation_);
    if (!trusted) return trusted;
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

ClientCertificateState ServerContext::verifyClientCertificate(X509* leaf,
                                                              STACK_OF_X509* chain) const noexcept {
  if (!leaf) return ClientCertificateState::kNone;
  if (!requestsClientCertificate()) return ClientCertificateState::kUntrusted;  // trusts no CA
  X509_STORE_CTX* store = X509_STORE_CTX_new();
  int worst = X509_V_OK;
  // Verified as the handshake verifies a client: the context's store (CAs, CRLs, CRL_CHECK), its
  // parameters (depth) and the ssl_client purpose.
  if (!store || X509_STORE_CTX_init(store, SSL_CTX_get_cert_store(ctx_), leaf, chain) != 1 ||
      X509_STORE_CTX_set_default(store, "ssl_client") != 1 ||
      X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(store), SSL_CTX_get0_param(ctx_)) != 1) {
    X509_STORE_CTX_free(store);
    ERR_clear_error();
    return ClientCertificateState::kUntrusted;
  }
  X509_STORE_CTX_set_app_data(store, &worst);
  X509_STORE_CTX_set_verify_cb(store, &collectVerifyError);
  int verified = X509_verify_cert(store);
  if (verified != 1 && worst == X509_V_OK) worst = X509_STORE_CTX_get_error(store);
  if (verified != 1 && worst == X509_V_OK) worst = X509_V_ERR_UNSPECIFIED;
  X509_STORE_CTX_free(store);
  ERR_clear_error();
  return clientCertificateStateOf(worst);
}

bool ServerContext::applyTo(SSL* ssl) const noexcept {
  if (SSL_get_SSL_CTX(ssl) != ctx_ && SSL_set_SSL_CTX(ssl, ctx_) != ctx_) return false;
  SSL_set_min_proto_version(ssl, toOpenSsl(options_.minVersion));
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx_), SSL_CTX_get_verify_callback(ctx_));
  if (requestsClientCertificate()) {
    // The store carries its CRL_CHECK flag into every verification; the SSL's own parameters
    // come from the listener's first context and must not add or drop it.
    X509_VERIFY_PARAM_clear_flags(SSL_get0_param(ssl), X509_V_FLAG_CRL_CHECK);
    if (SSL_set1_verify_cert_store(ssl, SSL_CTX_get_cert_store(ctx_)) != 1) return false;
    STACK_OF(X509_NAME)* names = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(ctx_));
    if (!names) return false;
    SSL_set_client_CA_list(ssl, names);
  }
  return true;
}

}  // namespace siteplane::tls

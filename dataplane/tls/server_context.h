#pragma once

// A TLS server context for one certificate and one site's SSL settings: an OpenSSL SSL_CTX built
// once by the controller, before a table is published, and shared read-only by every worker. A
// connection copies the shared_ptr once (at handshake) and uses only that copy, so a swap never
// changes the context under a live connection.

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "dataplane/table/binding_table.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct stack_st_X509 STACK_OF_X509;

namespace siteplane::tls {

// ALPN "acme-tls/1" in wire form (RFC 8737 §6.2).
inline constexpr unsigned char kAlpnAcmeTls[] = {10,  'a', 'c', 'm', 'e', '-',
                                                 't', 'l', 's', '/', '1'};

// What a client proved with its certificate, for IIS's 403.7 / 403.13 / 403.16 / 403.17.
// kRevoked also covers a revocation status that cannot be decided (a CRL past its nextUpdate).
enum class ClientCertificateState { kNone, kValid, kUntrusted, kExpired, kRevoked };

// A CRL for one client CA, as the controller read it (PEM or DER). `name` says where it came from,
// for errors ("default/client-ca crlFile /etc/pki/ca.crl").
struct ClientCrl {
  std::string name;
  std::string data;
};

// Checks a CRL before it is used: it parses (PEM or DER) and one of `caPems` issued and signed it.
// The error names the CRL and says what is wrong; `nextUpdate` receives the CRL's nextUpdate as
// seconds since the epoch (0 when it has none), for status to warn before it lapses.
[[nodiscard]] Status checkClientCrl(const ClientCrl& crl, const std::vector<std::string>& caPems,
                                    int64_t* nextUpdate = nullptr);

// The state an X509_V_ERR_* code means for the client (X509_V_OK -> kValid).
ClientCertificateState clientCertificateStateOf(int verifyError) noexcept;
// Of two verification errors, the one to report: untrusted, then revoked, then expired.
int worseVerifyError(int current, int next) noexcept;

// The certificate and key come either as PEM text, decoded here, or already decoded
// (certificateChain + privateKey), as the controller's certificate store holds them. OpenSSL 3
// spends several times longer decoding a key and a certificate than building the SSL_CTX around
// them, so a caller that has decoded objects passes those: with thousands of bindings that is
// most of the cost of a table. The decoded objects are shared, not copied (OpenSSL reference
// counts them), and must not be modified afterwards.
struct ServerContextOptions {
  std::string name;                     // "namespace/name" of the Certificate, for logs
  std::string certificateChainPem;      // leaf first, then intermediates
  std::string privateKeyPem;            // never logged
  std::vector<X509*> certificateChain;  // borrowed for create(); leaf first; wins over the PEM
  EVP_PKEY* privateKey = nullptr;       // borrowed for create(); with certificateChain
  table::TlsVersion minVersion = table::TlsVersion::k1_2;
  bool require128BitCiphers = false;
  table::ClientCertificateMode clientCertificate = table::ClientCertificateMode::kIgnore;
  std::vector<std::string> clientCAPems;  // trusted issuers of client certificates
  // Revocation lists of those issuers. Each must be issued by one of clientCAPems; with any CRL
  // the context checks the leaf's revocation (X509_V_FLAG_CRL_CHECK) for issuers that have one.
  std::vector<ClientCrl> clientCRLs;
  // Where the key pair lives, for `siteplane show sslcert` (netsh's "Certificate Store Name"):
  // the key file in siteplane's certificate store, and the file it was imported from ("" when
  // an Issuer issued it). Informational; the context never reads them.
  std::string keyStorePath;
  std::string importedFrom;
};

class ServerContext {
 public:
  // Fails with a message naming what is wrong (unparseable PEM, key does not match the certificate,
  // no client CA for Accept/Require, ...). Never logs key material.
  static Result<std::shared_ptr<const ServerContext>> create(const ServerContextOptions& options);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  const std::string& name() const { return name_; }
  // SHA-1 of the leaf certificate's DER, upper-case hex: the hash IIS / netsh show, and what status
  // reports as the thumbprint actually served.
  const std::string& thumbprint() const { return thumbprint_; }
  const ServerContextOptions& options() const { return options_; }

  // Moves a connection that started on another context (the listener's first one) onto this one,
  // during the client hello. SSL_set_SSL_CTX copies only the certificate and key, so the settings
  // OpenSSL reads from the SSL object itself (minimum version, verify mode and callback, the
  // client-CA store and the CA names sent in the CertificateRequest) are set here explicitly.
  // Returns false when OpenSSL refuses (out of memory); the handshake must then fail.
  bool applyTo(SSL* ssl) const noexcept;
  // Whether this context asks clients for a certificate (Accept or Require).
  bool requestsClientCertificate() const {
    return options_.clientCertificate != table::ClientCertificateMode::kIgnore;
  }
  // Key bits of the weakest cipher this context can negotiate (TLS 1.2 and 1.3 suites): what a
  // require128BitCiphers site can at worst see, for `siteplane explain`.
  int weakestCipherBits() const;
  // Verifies a client certificate (and the intermediates it sent, may be null) against this
  // context's client CAs and CRLs, as the handshake would have. For a request whose site is not
  // the one the handshake context was built for, and for resumed sessions. Thread-safe (the store
  // is only read); costs one chain verification, so callers cache the answer per connection.
  ClientCertificateState verifyClientCertificate(X509* leaf, STACK_OF_X509* chain) const noexcept;

 private:
  ServerContext() = default;
  SSL_CTX* ctx_ = nullptr;
  bool checksRevocation_ = false;  // clientCRLs were loaded into the store
  std::string name_;
  std::string thumbprint_;
  // privateKeyPem, certificateChain and privateKey cleared after the context is built (the SSL_CTX
  // holds its own references).
  ServerContextOptions options_;
};

}  // namespace siteplane::tls

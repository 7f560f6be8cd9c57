#pragma once

// The TLS state of one server-side connection, independent of any event loop: ciphertext goes in
// through setInput(), plaintext comes out of read(); write() appends ciphertext to an output buffer
// the transport owns and sends in one go. A custom BIO reads straight from the caller's receive
// buffer and appends straight to that output buffer, so no bytes are copied into or out of
// intermediate memory BIOs (h2o does the same).
//
// Reusable by any TLS server built on ServerContext (the data plane, the API server).

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "dataplane/tls/server_context.h"

typedef struct ssl_st SSL;

namespace siteplane::tls {

class TlsSession {
 public:
  // Picks the context for the server name a client hello asked for ("" when it sent none).
  // Returning nullptr refuses the handshake with the unrecognized_name alert. Called on the
  // thread that drives the session, during handshake(); must not throw.
  class ContextSelector {
   public:
    virtual std::shared_ptr<const ServerContext> selectContext(
        std::string_view serverName) noexcept = 0;
    // The tls-alpn-01 challenge context (RFC 8737) for a client hello that offers acme-tls/1,
    // or nullptr when no challenge is pending for the name (the handshake then goes on as any).
    virtual std::shared_ptr<const ServerContext> selectAcmeChallengeContext(
        std::string_view) noexcept {
      return nullptr;
    }

   protected:
    ~ContextSelector() = default;
  };

  enum class Progress { kDone, kWantMore, kFailed };

  using ClientCertificateState = tls::ClientCertificateState;

  // `initial` is the context the connection starts on (the listener's default certificate when it
  // has one); the selector may switch to another during the client hello. `output` receives all
  // ciphertext and must outlive the session. The selector must outlive the handshake.
  static Result<std::unique_ptr<TlsSession>> create(std::shared_ptr<const ServerContext> initial,
                                                    ContextSelector& selector, std::string& output);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Hands ciphertext to OpenSSL. The bytes are read in place: they must stay valid until
  // handshake()/read() have consumed them (they return kWantMore / 0 once everything is used).
  void setInput(const char* data, size_t length) {
    input_ = data;
    inputLength_ = length;
  }
  size_t pendingInput() const { return inputLength_; }
  // Whether read() could return more without new input: unconsumed ciphertext or decrypted bytes
  // OpenSSL still holds. Lets the caller skip a read that would only say "want more".
  bool hasBufferedData() const;

  Progress handshake();
  bool handshakeDone() const { return handshakeDone_; }
  // Plaintext into buffer: > 0 bytes read, 0 when more ciphertext is needed, -1 when the peer sent
  // close_notify or the stream is broken (see failureReason()).
  long read(char* buffer, size_t capacity);
  // Encrypts into the output buffer. False when the session is broken.
  bool write(const char* data, size_t length);
  // Appends close_notify to the output.
  void shutdown();

  // Why the handshake or the stream failed ("unrecognized_name", "wrong version number", ...).
  const std::string& failureReason() const { return failureReason_; }

  // Valid after the handshake.
  const std::string& serverName() const { return serverName_; }
  const std::shared_ptr<const ServerContext>& context() const { return context_; }
  const char* version() const;  // "TLSv1.3"
  const char* cipher() const;   // "TLS_AES_128_GCM_SHA256"
  int cipherBits() const;
  bool resumed() const;
  // The handshake answered an ACME tls-alpn-01 validation (ALPN acme-tls/1): no application data
  // follows, the connection is closed.
  bool acmeChallenge() const { return acmeChallenge_; }
  // As the handshake context verified it. For a resumed session that is the verification of
  // the handshake that created the session, possibly by another context.
  ClientCertificateState clientCertificate() const;
  // The client certificate judged by `context`'s client CAs and CRLs: the handshake's answer when
  // `context` made this (full) handshake, else a verification of the certificate the connection
  // holds (from its session when resumed), cached for the connection so that only the first
  // request to another site pays for it.
  ClientCertificateState clientCertificateFor(
      const std::shared_ptr<const ServerContext>& context) const noexcept;
  // The negotiated protocol version.
  table::TlsVersion tlsVersion() const;
  // Subject of the client certificate in RFC 2253 form ("CN=alice,O=Contoso"), "" without one.
  std::string clientSubject() const;

  // Internal: called from OpenSSL callbacks.
  static TlsSession* fromSsl(const SSL* ssl) noexcept;
  bool onClientHello(int* alert) noexcept;
  void recordVerifyError(int error) noexcept;

 private:
  friend struct SessionBio;
  TlsSession(std::shared_ptr<const ServerContext> initial, ContextSelector& selector,
             std::string& output)
      : context_(std::move(initial)), selector_(&selector), output_(&output) {}
  void recordFailure(int sslError);

  SSL* ssl_ = nullptr;
  std::shared_ptr<const ServerContext> context_;  // initial, then the one SNI chose
  ContextSelector* selector_;
  std::string* output_;
  const char* input_ = nullptr;
  size_t inputLength_ = 0;
  bool handshakeDone_ = false;
  bool acmeChallenge_ = false;
  int verifyError_ = 0;  // most severe X509_V_ERR_* seen: untrusted, then revoked, then expiry
  // clientCertificateFor's last answer and the context it was for; kept as a shared_ptr so that
  // a context freed and another allocated at the same address cannot match.
  mutable std::shared_ptr<const ServerContext> verifiedFor_;
  mutable ClientCertificateState verifiedState_ = ClientCertificateState::kNone;
  std::string serverName_;
  std::string failureReason_;
};

}  // namespace siteplane::tls

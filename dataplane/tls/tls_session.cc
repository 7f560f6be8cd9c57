#include "dataplane/tls/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

namespace siteplane::tls {

// The BIO behind every session: reads consume the caller's input span, writes append to the
// transport's output buffer.
struct SessionBio {
  static int write(BIO* bio, const char* data, int length) noexcept {
    auto* session = static_cast<TlsSession*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    try {
      session->output_->append(data, static_cast<size_t>(length));
    } catch (...) {
      return -1;  // out of memory: OpenSSL reports a write error, the connection closes
    }
    return length;
  }

  static int read(BIO* bio, char* data, int length) noexcept {
    auto* session = static_cast<TlsSession*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (session->inputLength_ == 0) {
      BIO_set_retry_read(bio);
      return -1;
    }
    size_t n = std::min(session->inputLength_, static_cast<size_t>(length));
    std::memcpy(data, session->input_, n);
    session->input_ += n;
    session->inputLength_ -= n;
    return static_cast<int>(n);
  }

  static long control(BIO* bio, int command, long, void*) noexcept {
    auto* session = static_cast<TlsSession*>(BIO_get_data(bio));
    switch (command) {
      case BIO_CTRL_FLUSH:
      case BIO_CTRL_DUP:
        return 1;
      case BIO_CTRL_PENDING:
        return session ? static_cast<long>(session->inputLength_) : 0;
      case BIO_CTRL_WPENDING:
        return 0;
      default:
        return 0;
    }
  }

  static int create(BIO* bio) noexcept {
    BIO_set_init(bio, 1);
    return 1;
  }

  static BIO_METHOD* method() {
    // Built once; C++ guarantees the thread-safe initialisation of the static.
    static BIO_METHOD* method = [] {
      BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "siteplane-session");
      if (m) {
        BIO_meth_set_write(m, &SessionBio::write);
        BIO_meth_set_read(m, &SessionBio::read);
        BIO_meth_set_ctrl(m, &SessionBio::control);
        BIO_meth_set_create(m, &SessionBio::create);
      }
      return m;
    }();
    return method;
  }
};

namespace {

// Extracts host_name from a raw server_name extension (RFC 6066 section 3). False when malformed.
bool parseServerName(const unsigned char* data, size_t length, std::string& name) {
  if (length < 2) return false;
  size_t listLength = (static_cast<size_t>(data[0]) << 8) | data[1];
  if (listLength + 2 != length) return false;
  data += 2;
  length -= 2;
  while (length >= 3) {
    unsigned type = data[0];
    size_t nameLength = (static_cast<size_t>(data[1]) << 8) | data[2];
    if (nameLength + 3 > length) return false;
    if (type == TLSEXT_NAMETYPE_host_name) {
      if (nameLength == 0 || nameLength > 255 || std::memchr(data + 3, 0, nameLength) != nullptr)
        return false;
      name.assign(reinterpret_cast<const char*>(data + 3), nameLength);
      return true;
    }
    data += 3 + nameLength;
    length -= 3 + nameLength;
  }
  return length == 0;
}

// Whether a client hello's ALPN extension (RFC 7301: a 2-byte length, then the protocol list)
// offers acme-tls/1. OpenSSL scans the list.
bool offersAcmeTls(const unsigned char* data, size_t length) {
  if (length < 2 || ((static_cast<size_t>(data[0]) << 8) | data[1]) + 2 != length) return false;
  unsigned char* selected = nullptr;
  unsigned char selectedLength = 0;
  return SSL_select_next_proto(&selected, &selectedLength, kAlpnAcmeTls, sizeof kAlpnAcmeTls,
                               data + 2,
                               static_cast<unsigned>(length - 2)) == OPENSSL_NPN_NEGOTIATED;
}

}  // namespace

Result<std::unique_ptr<TlsSession>> TlsSession::create(std::shared_ptr<const ServerContext> initial,
                                                       ContextSelector& selector,
                                                       std::string& output) {
  using Out = Result<std::unique_ptr<TlsSession>>;
  if (!initial) return Out::error("TLS session needs a context");
  BIO_METHOD* method = SessionBio::method();
  if (!method) return Out::error("cannot create the TLS BIO method");
  std::unique_ptr<TlsSession> session(new TlsSession(initial, selector, output));
  session->ssl_ = SSL_new(initial->native());
  if (!session->ssl_) {
    ERR_clear_error();
    return Out::error("SSL_new failed");
  }
  BIO* bio = BIO_new(method);
  if (!bio) {
    ERR_clear_error();
    return Out::error("BIO_new failed");
  }
  BIO_set_data(bio, session.get());
  SSL_set_bio(session->ssl_, bio, bio);  // one reference for both directions, owned by the SSL
  SSL_set_app_data(session->ssl_, session.get());
  SSL_set_accept_state(session->ssl_);
  return session;
}

TlsSession::~TlsSession() {
  if (ssl_) SSL_free(ssl_);
}

TlsSession* TlsSession::fromSsl(const SSL* ssl) noexcept {
  return static_cast<TlsSession*>(SSL_get_app_data(ssl));
}

bool TlsSession::onClientHello(int* alert) noexcept {
  const unsigned char* extension = nullptr;
  size_t length = 0;
  serverName_.clear();
  if (SSL_client_hello_get0_ext(ssl_, TLSEXT_TYPE_server_name, &extension, &length) == 1 &&
      !parseServerName(extension, length, serverName_)) {
    *alert = SSL_AD_DECODE_ERROR;
    failureReason_ = "malformed server_name";
    return false;
  }
  // RFC 8737: a validation handshake offers acme-tls/1 and gets the challenge certificate when
  // one is pending for the name; every other client goes on as usual.
  if (SSL_client_hello_get0_ext(ssl_, TLSEXT_TYPE_application_layer_protocol_negotiation,
                                &extension, &length) == 1 &&
      offersAcmeTls(extension, length)) {
    if (auto challenge = selector_->selectAcmeChallengeContext(serverName_)) {
      if (!challenge->applyTo(ssl_)) {
        *alert = SSL_AD_INTERNAL_ERROR;
        failureReason_ = "context switch failed";
        return false;
      }
      context_ = std::move(challenge);
      acmeChallenge_ = true;
      return true;
    }
  }
  auto chosen = selector_->selectContext(serverName_);
  if (!chosen) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    failureReason_ = "unrecognized_name";
    return false;
  }
  if (chosen != context_) {
    if (!chosen->applyTo(ssl_)) {
      *alert = SSL_AD_INTERNAL_ERROR;
      failureReason_ = "context switch failed";
      return false;
    }
    context_ = std::move(chosen);
  }
  return true;
}

void TlsSession::recordVerifyError(int error) noexcept {
  verifyError_ = worseVerifyError(verifyError_, error);
}

void TlsSession::recordFailure(int sslError) {
  if (!failureReason_.empty()) {
    ERR_clear_error();
    return;
  }
  unsigned long code = ERR_get_error();
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    failureReason_ = reason ? reason : "tls error";
  } else if (sslError == SSL_ERROR_SYSCALL || sslError == SSL_ERROR_ZERO_RETURN) {
    failureReason_ = "unexpected eof";
  } else {
    failureReason_ = "tls error " + std::to_string(sslError);
  }
  ERR_clear_error();
}

TlsSession::Progress TlsSession::handshake() {
  if (handshakeDone_) return Progress::kDone;
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshakeDone_ = true;
    return Progress::kDone;
  }
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return Progress::kWantMore;
  recordFailure(error);
  return Progress::kFailed;
}

long TlsSession::read(char* buffer, size_t capacity) {
  int rc = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(capacity, 1 << 30)));
  if (rc > 0) return rc;
  int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return 0;
  if (error == SSL_ERROR_ZERO_RETURN) {
    failureReason_ = "close_notify";
    return -1;
  }
  recordFailure(error);
  return -1;
}

bool TlsSession::write(const char* data, size_t length) {
  while (length > 0) {
    int chunk = static_cast<int>(std::min<size_t>(length, 1 << 30));
    int rc = SSL_write(ssl_, data, chunk);
    if (rc <= 0) {
      recordFailure(SSL_get_error(ssl_, rc));
      return false;
    }
    data += rc;
    length -= static_cast<size_t>(rc);
  }
  return true;
}

void TlsSession::shutdown() {
  if (handshakeDone_) SSL_shutdown(ssl_);
  ERR_clear_error();
}

const char* TlsSession::version() const { return SSL_get_version(ssl_); }

const char* TlsSession::cipher() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  return cipher ? SSL_CIPHER_get_name(cipher) : "";
}

int TlsSession::cipherBits() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  return cipher ? SSL_CIPHER_get_bits(cipher, nullptr) : 0;
}

bool TlsSession::hasBufferedData() const { return inputLength_ > 0 || SSL_has_pending(ssl_) == 1; }

bool TlsSession::resumed() const { return SSL_session_reused(ssl_) == 1; }

TlsSession::ClientCertificateState TlsSession::clientCertificate() const {
  if (!SSL_get0_peer_certificate(ssl_)) return ClientCertificateState::kNone;
  // A resumed session carries the verification result of the original handshake.
  int error = verifyError_ != 0 ? verifyError_ : static_cast<int>(SSL_get_verify_result(ssl_));
  return clientCertificateStateOf(error);
}

TlsSession::ClientCertificateState TlsSession::clientCertificateFor(
    const std::shared_ptr<const ServerContext>& context) const noexcept {
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (!peer || !context) return ClientCertificateState::kNone;
  // The hot path: the request's site is the one this full handshake verified for. A resumed
  // session's result belongs to the handshake that made it, under whichever context SNI chose
  // then (any context accepts any siteplane ticket), and to the CRLs of that time.
  if (context == context_ && !resumed()) return clientCertificate();
  if (context == verifiedFor_) return verifiedState_;
  // On the server side the peer chain holds the intermediates only (the leaf is separate); a
  // resumed session restores no chain, so intermediates must then be among the site's CAs.
  verifiedState_ = context->verifyClientCertificate(peer, SSL_get_peer_cert_chain(ssl_));
  verifiedFor_ = context;
  return verifiedState_;
}

table::TlsVersion TlsSession::tlsVersion() const {
  return SSL_version(ssl_) >= TLS1_3_VERSION ? table::TlsVersion::k1_3 : table::TlsVersion::k1_2;
}

std::string TlsSession::clientSubject() const {
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (!peer) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return "";
  X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string subject(data, static_cast<size_t>(std::max(0L, length)));
  BIO_free(bio);
  return subject;
}

}  // namespace siteplane::tls

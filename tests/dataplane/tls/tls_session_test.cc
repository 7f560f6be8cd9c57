#include "dataplane/tls/tls_session.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <map>

#include "dataplane/tls/handshake_failure.h"
#include "dataplane/tls/server_context.h"
#include "tests/support/test_support.h"

namespace siteplane::tls {
namespace {

using testing::TempDir;
using testing::TestCertificate;

ServerContextOptions optionsFor(const TestCertificate& certificate) {
  ServerContextOptions options;
  options.name = "default/" + certificate.cert.stem().string();
  options.certificateChainPem = testing::readFile(certificate.cert);
  options.privateKeyPem = testing::readFile(certificate.key);
  return options;
}

std::shared_ptr<const ServerContext> make(const ServerContextOptions& options) {
  auto created = ServerContext::create(options);
  INFO((created ? std::string() : created.message()));
  REQUIRE(created.isOk());
  return *created;
}

// Serves contexts by SNI name; "" and unknown names get `fallback` (may be null).
class MapSelector : public TlsSession::ContextSelector {
 public:
  std::map<std::string, std::shared_ptr<const ServerContext>> byName;
  std::shared_ptr<const ServerContext> fallback;
  std::shared_ptr<const ServerContext> selectContext(std::string_view name) noexcept override {
    auto it = byName.find(std::string(name));
    return it == byName.end() ? fallback : it->second;
  }
};

// An OpenSSL client on memory BIOs, pumped against a TlsSession.
struct Handshake {
  SSL_CTX* clientCtx = SSL_CTX_new(TLS_client_method());
  SSL* client = nullptr;
  BIO* toClient = nullptr;  // client's read side
  BIO* fromClient = nullptr;
  std::string serverOutput;
  std::unique_ptr<TlsSession> session;
  bool failed = false;

  Handshake() { SSL_CTX_set_verify(clientCtx, SSL_VERIFY_NONE, nullptr); }
  ~Handshake() {
    if (client) SSL_free(client);
    SSL_CTX_free(clientCtx);
  }

  void useClientCertificate(const TestCertificate& certificate) {
    REQUIRE(SSL_CTX_use_certificate_file(clientCtx, certificate.cert.c_str(), SSL_FILETYPE_PEM) ==
            1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(clientCtx, certificate.key.c_str(), SSL_FILETYPE_PEM) == 1);
  }

  // Runs the handshake to the end; true when both sides completed it.
  bool run(std::shared_ptr<const ServerContext> initial, TlsSession::ContextSelector& selector,
           const std::string& sni, SSL_SESSION* resume = nullptr) {
    client = SSL_new(clientCtx);
    toClient = BIO_new(BIO_s_mem());
    fromClient = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(toClient, -1);  // empty means "wait", not end of stream
    SSL_set_bio(client, toClient, fromClient);
    if (!sni.empty()) SSL_set_tlsext_host_name(client, sni.c_str());
    if (resume) SSL_set_session(client, resume);
    SSL_set_connect_state(client);
    auto created = TlsSession::create(std::move(initial), selector, serverOutput);
    REQUIRE(created.isOk());
    session = std::move(created).value();
    for (int round = 0; round < 20; ++round) {
      int rc = SSL_do_handshake(client);
      // Read the error now: writing into the client's BIO below clears its retry flags.
      int error = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(client, rc);
      pumpToServer();
      if (!failed && !session->handshakeDone()) {
        if (session->handshake() == TlsSession::Progress::kFailed) failed = true;
      }
      pumpToClient();
      if (rc == 1 && session->handshakeDone()) return true;
      if (rc != 1 && error != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return false;
      }
    }
    return false;
  }

  void pumpToServer() {
    char buffer[16384];
    int n;
    while ((n = BIO_read(fromClient, buffer, sizeof buffer)) > 0) {
      session->setInput(buffer, static_cast<size_t>(n));
      if (!session->handshakeDone()) {
        if (session->handshake() == TlsSession::Progress::kFailed) failed = true;
      }
      if (session->handshakeDone()) {
        char plain[16384];
        long got;
        while ((got = session->read(plain, sizeof plain)) > 0)
          received.append(plain, static_cast<size_t>(got));
      }
    }
  }
  void pumpToClient() {
    if (!serverOutput.empty()) {
      BIO_write(toClient, serverOutput.data(), static_cast<int>(serverOutput.size()));
      serverOutput.clear();
    }
  }
  std::string received;
};

}  // namespace

TEST_CASE("ServerContext refuses broken material with a message naming the certificate",
          "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  auto b = testing::makeCertificate(dir.path(), "b", {"b.test"});

  auto garbage = optionsFor(a);
  garbage.certificateChainPem = "not a certificate";
  auto refused = ServerContext::create(garbage);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.message() == "certificate default/a: no PEM certificate found");

  auto mismatched = optionsFor(a);
  mismatched.privateKeyPem = testing::readFile(b.key);
  refused = ServerContext::create(mismatched);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.message() == "certificate default/a: private key does not match the certificate");

  auto noKey = optionsFor(a);
  noKey.privateKeyPem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  refused = ServerContext::create(noKey);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.message() == "certificate default/a: private key is not an unencrypted PEM key");

  auto noCA = optionsFor(a);
  noCA.clientCertificate = table::ClientCertificateMode::kRequire;
  refused = ServerContext::create(noCA);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.message() ==
        "certificate default/a: clientCertificate Accept/Require needs at least one client CA");
}

TEST_CASE("ServerContext reports the SHA-1 thumbprint IIS shows and keeps no private key",
          "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  auto context = make(optionsFor(a));
  CHECK(context->thumbprint() == a.thumbprint);
  CHECK(context->options().privateKeyPem.empty());
  CHECK(context->name() == "default/a");
}

TEST_CASE("ServerContext serves decoded objects it shares with the caller instead of PEM",
          "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  auto b = testing::makeCertificate(dir.path(), "b", {"b.test"});
  auto decode = [](const std::filesystem::path& certFile, const std::filesystem::path& keyFile) {
    std::string certPem = testing::readFile(certFile);
    std::string keyPem = testing::readFile(keyFile);
    BIO* certBio = BIO_new_mem_buf(certPem.data(), static_cast<int>(certPem.size()));
    BIO* keyBio = BIO_new_mem_buf(keyPem.data(), static_cast<int>(keyPem.size()));
    std::pair<X509*, EVP_PKEY*> decoded{PEM_read_bio_X509(certBio, nullptr, nullptr, nullptr),
                                        PEM_read_bio_PrivateKey(keyBio, nullptr, nullptr, nullptr)};
    BIO_free(certBio);
    BIO_free(keyBio);
    REQUIRE(decoded.first != nullptr);
    REQUIRE(decoded.second != nullptr);
    return decoded;
  };
  auto [certificate, key] = decode(a.cert, a.key);
  ServerContextOptions options;
  options.name = "default/a";
  options.certificateChain = {certificate};
  options.privateKey = key;
  auto context = make(options);
  // The context holds its own references: the caller's may go.
  X509_free(certificate);
  EVP_PKEY_free(key);
  CHECK(context->thumbprint() == a.thumbprint);
  CHECK(context->options().certificateChain.empty());
  CHECK(context->options().privateKey == nullptr);

  MapSelector selector;
  selector.fallback = context;
  Handshake handshake;
  REQUIRE(handshake.run(selector.fallback, selector, "a.test"));
  CHECK(handshake.session->context()->thumbprint() == a.thumbprint);
  X509* peer = SSL_get0_peer_certificate(handshake.client);
  REQUIRE(peer != nullptr);
  CHECK(X509_check_host(peer, "a.test", 0, 0, nullptr) == 1);

  // The same checks as for PEM: a key of another certificate, or no key at all, is refused.
  auto [otherCertificate, otherKey] = decode(b.cert, b.key);
  auto [ownCertificate, ownKey] = decode(a.cert, a.key);
  ServerContextOptions mismatched;
  mismatched.name = "default/a";
  mismatched.certificateChain = {ownCertificate};
  mismatched.privateKey = otherKey;
  auto refused = ServerContext::create(mismatched);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.message() == "certificate default/a: private key does not match the certificate");
  mismatched.privateKey = nullptr;
  refused = ServerContext::create(mismatched);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.message() == "certificate default/a: a decoded certificate needs its decoded key");
  X509_free(otherCertificate);
  X509_free(ownCertificate);
  EVP_PKEY_free(otherKey);
  EVP_PKEY_free(ownKey);
}

TEST_CASE("TlsSession switches to the context the SNI name selects and prefers AES-128-GCM",
          "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  auto b = testing::makeCertificate(dir.path(), "b", {"b.test"});
  MapSelector selector;
  selector.fallback = make(optionsFor(a));
  selector.byName["b.test"] = make(optionsFor(b));

  Handshake handshake;
  // The client prefers AES-256; the server's preference wins.
  SSL_CTX_set_ciphersuites(handshake.clientCtx, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
  REQUIRE(handshake.run(selector.fallback, selector, "b.test"));
  CHECK(handshake.session->serverName() == "b.test");
  CHECK(handshake.session->context()->thumbprint() == b.thumbprint);
  CHECK(std::string(handshake.session->version()) == "TLSv1.3");
  CHECK(std::string(handshake.session->cipher()) == "TLS_AES_128_GCM_SHA256");
  X509* peer = SSL_get0_peer_certificate(handshake.client);
  REQUIRE(peer != nullptr);
  CHECK(X509_check_host(peer, "b.test", 0, 0, nullptr) == 1);

  // Application data both ways.
  REQUIRE(SSL_write(handshake.client, "ping", 4) == 4);
  handshake.pumpToServer();
  CHECK(handshake.received == "ping");
  REQUIRE(handshake.session->write("pong", 4));
  handshake.pumpToClient();
  char buffer[8];
  CHECK(SSL_read(handshake.client, buffer, sizeof buffer) == 4);
}

TEST_CASE("TlsSession fails with unrecognized_name when the selector has no context",
          "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  MapSelector selector;
  selector.byName["a.test"] = make(optionsFor(a));
  Handshake handshake;
  CHECK_FALSE(handshake.run(selector.byName["a.test"], selector, "other.test"));
  CHECK(handshake.failed);
  CHECK(handshake.session->failureReason() == "unrecognized_name");
}

TEST_CASE("TlsSession applies the selected context's minimum TLS version", "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  auto b = testing::makeCertificate(dir.path(), "b", {"b.test"});
  MapSelector selector;
  selector.fallback = make(optionsFor(a));
  auto strict = optionsFor(b);
  strict.minVersion = table::TlsVersion::k1_3;
  selector.byName["b.test"] = make(strict);

  Handshake old;
  SSL_CTX_set_max_proto_version(old.clientCtx, TLS1_2_VERSION);
  CHECK_FALSE(old.run(selector.fallback, selector, "b.test"));

  Handshake lenient;
  SSL_CTX_set_max_proto_version(lenient.clientCtx, TLS1_2_VERSION);
  REQUIRE(lenient.run(selector.fallback, selector, "a.test"));
  CHECK(std::string(lenient.session->version()) == "TLSv1.2");
  CHECK(std::string(lenient.session->cipher()) == "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST_CASE("TlsSession requests and classifies client certificates after switching context",
          "[dataplane][tls]") {
  TempDir dir;
  auto ca = testing::makeCertificate(dir.path(), "ca", {}, nullptr, true);
  auto server = testing::makeCertificate(dir.path(), "server", {"a.test", "strict.test"});
  auto trusted = testing::makeCertificate(dir.path(), "trusted", {"client.test"}, &ca);
  auto stranger = testing::makeCertificate(dir.path(), "stranger", {"stranger.test"});
  MapSelector selector;
  selector.fallback = make(optionsFor(server));  // asks for no client certificate
  auto strict = optionsFor(server);
  strict.clientCertificate = table::ClientCertificateMode::kRequire;
  strict.clientCAPems = {testing::readFile(ca.cert)};
  selector.byName["strict.test"] = make(strict);

  using State = TlsSession::ClientCertificateState;
  {
    Handshake handshake;
    handshake.useClientCertificate(trusted);
    REQUIRE(handshake.run(selector.fallback, selector, "strict.test"));
    CHECK(handshake.session->clientCertificate() == State::kValid);
    CHECK(handshake.session->clientSubject() == "CN=client.test");
  }
  {
    Handshake handshake;
    handshake.useClientCertificate(stranger);
    REQUIRE(handshake.run(selector.fallback, selector, "strict.test"));
    CHECK(handshake.session->clientCertificate() == State::kUntrusted);
  }
  {
    Handshake handshake;
    REQUIRE(handshake.run(selector.fallback, selector, "strict.test"));
    CHECK(handshake.session->clientCertificate() == State::kNone);
  }
  {
    // The default context does not ask, so a client with a certificate does not send it.
    Handshake handshake;
    handshake.useClientCertificate(trusted);
    REQUIRE(handshake.run(selector.fallback, selector, "a.test"));
    CHECK(handshake.session->clientCertificate() == State::kNone);
  }
}

TEST_CASE("TlsSession resumes sessions from tickets", "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  MapSelector selector;
  selector.fallback = make(optionsFor(a));

  Handshake first;
  REQUIRE(first.run(selector.fallback, selector, "a.test"));
  CHECK_FALSE(first.session->resumed());
  // TLS 1.3 tickets arrive after the handshake: let the client read them.
  char buffer[16];
  SSL_read(first.client, buffer, sizeof buffer);
  ERR_clear_error();
  SSL_SESSION* ticket = SSL_get1_session(first.client);
  REQUIRE(ticket != nullptr);
  REQUIRE(SSL_SESSION_is_resumable(ticket) == 1);

  Handshake second;
  REQUIRE(second.run(selector.fallback, selector, "a.test", ticket));
  CHECK(second.session->resumed());
  SSL_SESSION_free(ticket);
}

TEST_CASE("Handshake failures fold into a small fixed set of metric labels", "[dataplane][tls]") {
  TempDir dir;
  auto a = testing::makeCertificate(dir.path(), "a", {"a.test"});
  MapSelector selector;
  auto strict = optionsFor(a);
  strict.minVersion = table::TlsVersion::k1_3;
  selector.byName["a.test"] = make(strict);
  auto labelOf = [](const TlsSession& session) {
    INFO("reason: " << session.failureReason());
    return std::string(handshakeFailureLabel(session.failureReason()));
  };

  Handshake old;  // a TLS 1.2 client against minTLSVersion 1.3
  SSL_CTX_set_max_proto_version(old.clientCtx, TLS1_2_VERSION);
  CHECK_FALSE(old.run(selector.byName["a.test"], selector, "a.test"));
  CHECK(labelOf(*old.session) == "protocol_version");

  Handshake unknownName;
  CHECK_FALSE(unknownName.run(selector.byName["a.test"], selector, "b.test"));
  CHECK(labelOf(*unknownName.session) == "unrecognized_name");

  Handshake noCipher;  // TLS 1.2 with RSA key exchange only, against an ECDSA certificate
  selector.byName["c.test"] = make(optionsFor(a));
  SSL_CTX_set_max_proto_version(noCipher.clientCtx, TLS1_2_VERSION);
  REQUIRE(SSL_CTX_set_cipher_list(noCipher.clientCtx, "AES128-SHA") == 1);
  CHECK_FALSE(noCipher.run(selector.byName["c.test"], selector, "c.test"));
  CHECK(labelOf(*noCipher.session) == "no_shared_cipher");

  // Bytes that are no TLS at all, straight into a session.
  auto feed = [&](const std::string& bytes) {
    std::string output;
    auto created = TlsSession::create(selector.byName["a.test"], selector, output);
    REQUIRE(created.isOk());
    (*created)->setInput(bytes.data(), bytes.size());
    CHECK((*created)->handshake() == TlsSession::Progress::kFailed);
    return labelOf(**created);
  };
  CHECK(feed("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n") == "http_request");
  CHECK(feed(std::string("\x16\x07\x07\x00\x05hello", 10)) == "malformed");

  // The transport's reasons, and anything unknown.
  CHECK(handshakeFailureLabel("eof") == "eof");
  CHECK(handshakeFailureLabel("timeout") == "timeout");
  CHECK(handshakeFailureLabel("connection reset by peer") == "other");
  CHECK(handshakeFailureLabel("") == "other");
  CHECK(handshakeFailureLabel(ERR_reason_error_string(
            ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV1_ALERT_UNKNOWN_CA))) == "certificate_rejected");
  CHECK(handshakeFailureLabel(ERR_reason_error_string(ERR_PACK(
            ERR_LIB_SSL, 0, SSL_AD_REASON_OFFSET + SSL3_AD_HANDSHAKE_FAILURE))) == "client_alert");
}

}  // namespace siteplane::tls

namespace siteplane::tls {

TEST_CASE("TlsSession judges its client certificate by the CAs of the context a request names",
          "[dataplane][tls]") {
  TempDir dir;
  auto caA = testing::makeCertificate(dir.path(), "ca-a", {}, nullptr, true);
  auto caB = testing::makeCertificate(dir.path(), "ca-b", {}, nullptr, true);
  auto server = testing::makeCertificate(dir.path(), "server", {"a.test", "b.test"});
  auto clientB = testing::makeCertificate(dir.path(), "client-b", {"bob.test"}, &caB);
  auto trusting = [&](const TestCertificate& ca) {
    auto options = optionsFor(server);
    options.clientCertificate = table::ClientCertificateMode::kRequire;
    options.clientCAPems = {testing::readFile(ca.cert)};
    return make(options);
  };
  MapSelector selector;
  selector.byName["a.test"] = trusting(caA);
  selector.byName["b.test"] = trusting(caB);
  selector.fallback = selector.byName["a.test"];

  Handshake handshake;
  handshake.useClientCertificate(clientB);
  REQUIRE(handshake.run(selector.fallback, selector, "b.test"));
  CHECK(handshake.session->clientCertificate() == ClientCertificateState::kValid);
  CHECK(handshake.session->clientCertificateFor(selector.byName["b.test"]) ==
        ClientCertificateState::kValid);
  CHECK(handshake.session->clientCertificateFor(selector.byName["a.test"]) ==
        ClientCertificateState::kUntrusted);
  // Asked again (the cached answer), and for a context that trusts B's CA as well.
  CHECK(handshake.session->clientCertificateFor(selector.byName["a.test"]) ==
        ClientCertificateState::kUntrusted);
  CHECK(handshake.session->clientCertificateFor(trusting(caB)) == ClientCertificateState::kValid);
  CHECK(handshake.session->tlsVersion() == table::TlsVersion::k1_3);
}

TEST_CASE("ServerContext checks client certificates against the CRL of their CA",
          "[dataplane][tls]") {
  TempDir dir;
  auto ca = testing::makeCertificate(dir.path(), "ca", {}, nullptr, true);
  auto other = testing::makeCertificate(dir.path(), "other-ca", {}, nullptr, true);
  auto server = testing::makeCertificate(dir.path(), "server", {"a.test"});
  auto good = testing::makeCertificate(dir.path(), "good", {"good.test"}, &ca);
  auto revoked = testing::makeCertificate(dir.path(), "revoked", {"revoked.test"}, &ca);
  auto fromOther = testing::makeCertificate(dir.path(), "from-other", {"other.test"}, &other);
  testing::makeCrl(dir.path() / "ca.crl", ca, {&revoked});
  testing::makeCrl(dir.path() / "lapsed.crl", ca, {}, true);
  testing::makeCrl(dir.path() / "other.crl", other, {});

  auto options = optionsFor(server);
  options.clientCertificate = table::ClientCertificateMode::kRequire;
  options.clientCAPems = {testing::readFile(ca.cert), testing::readFile(other.cert)};
  auto withCrls = [&](std::vector<ClientCrl> crls) {
    auto copy = options;
    copy.clientCRLs = std::move(crls);
    return make(copy);
  };
  auto handshakeWith = [&](const std::shared_ptr<const ServerContext>& context,
                           const TestCertificate& client) {
    MapSelector selector;
    selector.fallback = context;
    Handshake handshake;
    handshake.useClientCertificate(client);
    REQUIRE(handshake.run(context, selector, "a.test"));
    return handshake.session->clientCertificate();
  };
  auto x509 = [](const TestCertificate& certificate) {
    BIO* bio = BIO_new_file(certificate.cert.c_str(), "r");
    X509* out = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return std::unique_ptr<X509, decltype(&X509_free)>(out, X509_free);
  };

  // Only `ca` has a CRL: `other`'s certificates are checked without one, not refused.
  auto checked = withCrls({{"ca.crl", testing::readFile(dir.path() / "ca.crl")}});
  CHECK(handshakeWith(checked, good) == ClientCertificateState::kValid);
  CHECK(handshakeWith(checked, revoked) == ClientCertificateState::kRevoked);
  CHECK(handshakeWith(checked, fromOther) == ClientCertificateState::kValid);
  CHECK(checked->verifyClientCertificate(x509(revoked).get(), nullptr) ==
        ClientCertificateState::kRevoked);
  CHECK(checked->verifyClientCertificate(x509(good).get(), nullptr) ==
        ClientCertificateState::kValid);
  // Without the CRL the same certificate passes.
  CHECK(make(options)->verifyClientCertificate(x509(revoked).get(), nullptr) ==
        ClientCertificateState::kValid);
  // A CRL past its nextUpdate decides nothing: refused as revoked, as nginx does.
  auto lapsed = withCrls({{"lapsed.crl", testing::readFile(dir.path() / "lapsed.crl")}});
  CHECK(handshakeWith(lapsed, good) == ClientCertificateState::kRevoked);

  // A CRL of a CA the context does not trust, or that is not a CRL, is refused by name.
  auto strangerOptions = optionsFor(server);
  strangerOptions.clientCertificate = table::ClientCertificateMode::kRequire;
  strangerOptions.clientCAPems = {testing::readFile(ca.cert)};
  strangerOptions.clientCRLs = {{"other.crl", testing::readFile(dir.path() / "other.crl")}};
  auto refused = ServerContext::create(strangerOptions);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.message() ==
        "certificate default/server: other.crl: not issued by any of the site's client CAs");
  CHECK(checkClientCrl({"other.crl", testing::readFile(dir.path() / "other.crl")},
                       strangerOptions.clientCAPems)
            .message() == "other.crl: not issued by any of the site's client CAs");
  CHECK(checkClientCrl({"junk.crl", "not a crl"}, strangerOptions.clientCAPems).message() ==
        "junk.crl: not a PEM or DER X.509 CRL");
  int64_t nextUpdate = 0;
  CHECK(checkClientCrl({"ca.crl", testing::readFile(dir.path() / "ca.crl")},
                       strangerOptions.clientCAPems, &nextUpdate)
            .isOk());
  CHECK(nextUpdate > 0);
}

}  // namespace siteplane::tls

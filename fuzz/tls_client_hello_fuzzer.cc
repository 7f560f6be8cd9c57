// Fuzz target: the first flight of a TLS client, as the data plane receives it
// (dataplane/tls TlsSession on a ServerContext, with SNI routed through a BindingTable exactly as
// HttpConnection::selectContext routes it).
//
// The input is the raw bytes a client sends first: record layer, ClientHello, its extensions
// (server_name, session tickets, key shares, ALPN, ...), possibly more records. The listener has a
// default certificate, an exact host that requires client certificates and a TLS 1.3-only
// wildcard, so the client-hello callback's context switch, the ticket callback and the ALPN
// callback all run. Beyond "no crash": when the handshake goes on after the client hello, the
// context the session ended up on must be the one the binding table routes its server name to,
// and the server name must be what RFC 6066 allows.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/table/binding_table.h"
#include "dataplane/tls/server_context.h"
#include "dataplane/tls/tls_session.h"
#include "fuzz/fuzz_check.h"

namespace {

namespace table = siteplane::table;
namespace tls = siteplane::tls;

constexpr const char* kAddress = "127.0.0.1";
constexpr uint16_t kPort = 443;

std::string toPem(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, certificate);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

std::string toPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

// A self-signed P-256 certificate generated for this run (no key material is committed).
struct KeyPair {
  std::string certificatePem;
  std::string keyPem;
};

KeyPair makeKeyPair(const std::string& commonName) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  FUZZ_CHECK(key != nullptr, "EVP_EC_gen");
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 86400L * 365);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  FUZZ_CHECK(X509_sign(certificate, key, EVP_sha256()) > 0, "X509_sign");
  KeyPair pair{toPem(certificate), toPem(key)};
  X509_free(certificate);
  EVP_PKEY_free(key);
  return pair;
}

std::shared_ptr<const tls::ServerContext> makeContext(const std::string& name, const KeyPair& pair,
                                                      tls::ServerContextOptions options) {
  options.name = "default/" + name;
  options.certificateChainPem = pair.certificatePem;
  options.privateKeyPem = pair.keyPem;
  auto created = tls::ServerContext::create(options);
  FUZZ_CHECK(created.isOk(), created.isOk() ? std::string() : created.message());
  return std::move(created).value();
}

table::BindingTable::Entry entry(const std::string& binding, const std::string& host,
                                 std::shared_ptr<const tls::ServerContext> context) {
  auto site = std::make_shared<table::SitePolicy>();
  site->name = "default/" + binding;
  site->root = "/nonexistent";
  table::BindingTable::Entry out;
  out.listener = {kAddress, kPort};
  out.protocol = table::Protocol::kHttps;
  out.route.binding = "default/" + binding;
  out.route.hostName = host;
  out.route.site = std::move(site);
  out.route.tls = std::move(context);
  return out;
}

struct Fixture {
  std::shared_ptr<const table::BindingTable> table;
  std::shared_ptr<const tls::ServerContext> initial;
};

Fixture makeFixture() {
  KeyPair defaultPair = makeKeyPair("default.example");
  KeyPair hostPair = makeKeyPair("a.example");
  KeyPair wildcardPair = makeKeyPair("*.wild.example");
  KeyPair clientCA = makeKeyPair("client CA");

  tls::ServerContextOptions plain;
  tls::ServerContextOptions clientCertificates;
  clientCertificates.clientCertificate = table::ClientCertificateMode::kRequire;
  clientCertificates.clientCAPems = {clientCA.certificatePem};
  tls::ServerContextOptions modern;
  modern.minVersion = table::TlsVersion::k1_3;
  modern.require128BitCiphers = true;

  table::BindingTable::Builder builder(1);
  auto initial = makeContext("default-tls", defaultPair, plain);
  FUZZ_CHECK(builder.add(entry("default", "", initial)).isOk(), "default binding");
  FUZZ_CHECK(
      builder.add(entry("a", "a.example", makeContext("a-tls", hostPair, clientCertificates)))
          .isOk(),
      "exact binding");
  FUZZ_CHECK(
      builder.add(entry("wild", "*.wild.example", makeContext("wild-tls", wildcardPair, modern)))
          .isOk(),
      "wildcard binding");
  return {std::move(builder).build(), std::move(initial)};
}

const Fixture& fixture() {
  static const Fixture instance = makeFixture();
  return instance;
}

// HttpConnection::selectContext, without the connection.
class TableSelector : public tls::TlsSession::ContextSelector {
 public:
  explicit TableSelector(const table::BindingTable& table) : table_(table) {}
  std::shared_ptr<const tls::ServerContext> selectContext(
      std::string_view serverName) noexcept override {
    ++calls;
    const table::Route* route = table_.handshakeRoute(kAddress, kPort, serverName);
    return route ? route->tls : nullptr;
  }
  int calls = 0;

 private:
  const table::BindingTable& table_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = fixture();
  TableSelector selector(*f.table);
  std::string output;
  auto created = tls::TlsSession::create(f.initial, selector, output);
  FUZZ_CHECK(created.isOk(), "TlsSession::create");
  auto session = std::move(created).value();

  session->setInput(reinterpret_cast<const char*>(data), size);
  auto progress = session->handshake();
  if (progress == tls::TlsSession::Progress::kDone) {
    char buffer[4096];
    while (session->read(buffer, sizeof buffer) > 0) {
    }
  }
  if (progress == tls::TlsSession::Progress::kFailed) {
    FUZZ_CHECK(!session->failureReason().empty(), "a failed handshake says why");
    return 0;
  }
  FUZZ_CHECK(session->pendingInput() == 0 || progress != tls::TlsSession::Progress::kWantMore,
             "wants more while input is left");
  if (selector.calls == 0) return 0;  // no complete client hello yet
  // The client hello was accepted: the session sits on the context its name routes to.
  const std::string& name = session->serverName();
  FUZZ_CHECK(name.size() <= 255 && name.find('\0') == std::string::npos, "server name shape");
  const table::Route* route = f.table->handshakeRoute(kAddress, kPort, name);
  FUZZ_CHECK(route != nullptr, "accepted a name the table refuses: " + name);
  FUZZ_CHECK(session->context() == route->tls, "session context is not the routed one for " + name);
  return 0;
}

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/condition.h"
#include "controller/api/object_meta.h"

namespace siteplane::api {

enum class ClientCertificateMode { kIgnore, kAccept, kRequire };
enum class TlsVersion { k1_2, k1_3 };

const char* toString(ClientCertificateMode mode);
const char* toString(TlsVersion version);

// A Certificate trusted to issue client certificates (its leaf is the trust anchor), and
// optionally the CRL that CA publishes.
struct ClientCAReference {
  std::string name;  // a Certificate in the Site's namespace
  // A PEM or DER X.509 CRL issued by that CA. A relative path written in a manifest file resolves
  // against the file's directory, like a Certificate's spec.source paths; the file is watched
  // and re-read when it changes.
  std::string crlFile = {};
  bool operator==(const ClientCAReference&) const = default;
};

// IIS <access sslFlags>: Ssl, Ssl128, SslNegotiateCert, SslRequireCert.
struct SiteSsl {
  bool requireSSL = false;    // plain-http requests get 403.4 ...
  bool redirectHTTP = false;  // ... or a 301 to https (only with requireSSL)
  bool require128BitCiphers = false;
  ClientCertificateMode clientCertificate = ClientCertificateMode::kIgnore;
  std::vector<ClientCAReference> clientCARefs;  // Certificates trusted for client certificates
  TlsVersion minTLSVersion = TlsVersion::k1_2;

  bool operator==(const SiteSsl&) const = default;
};

struct SiteSpec {
  std::optional<int64_t> siteId;  // >= 1; assigned by the controller when absent
  // Exactly one of root and upstream is non-empty. A relative root written in a manifest file is
  // resolved against the file's directory by the decoder, so root is absolute for file input.
  std::string root;
  std::string upstream;  // http://host:port
  SiteSsl ssl;

  bool operator==(const SiteSpec&) const = default;
};

struct SiteStatus {
  std::vector<Condition> conditions;  // Ready
  std::optional<int64_t> siteId;

  bool operator==(const SiteStatus&) const = default;
};

struct Site {
  static constexpr const char* kKind = "Site";
  ObjectMeta metadata;
  SiteSpec spec;
  SiteStatus status;

  bool operator==(const Site&) const = default;
};

// host and port of an upstream "http://host:port" (host without IPv6 brackets).
struct UpstreamAddress {
  std::string host;
  uint16_t port = 0;
};
std::optional<UpstreamAddress> parseUpstream(std::string_view url);

}  // namespace siteplane::api

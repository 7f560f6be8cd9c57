#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/api/condition.h"
#include "controller/api/object_meta.h"

namespace siteplane::api {

struct SelfSignedIssuer {
  bool operator==(const SelfSignedIssuer&) const = default;
};

// A CA Certificate (isCA: true) that signs the certificates of this Issuer.
struct CAIssuer {
  LocalObjectReference certificateRef;
  bool operator==(const CAIssuer&) const = default;
};

// How the ACME server's challenges for some names are answered, all by siteplane's own data plane.
enum class AcmeChallengeType { kHttp01, kTlsAlpn01, kDns01 };

// dns-01 through RFC 2136 dynamic updates to the names' primary server, signed with TSIG.
struct AcmeRfc2136 {
  std::string nameserver;  // "192.0.2.53" or "192.0.2.53:5353"
  std::string tsigKeyName;
  std::string tsigAlgorithm = "HMACSHA256";  // HMACMD5, HMACSHA1, HMACSHA256, HMACSHA512
  // A file holding the TSIG secret (base64, as tsig-keygen prints it), read like spec.source
  // files.
  std::string tsigSecretFile;
  bool operator==(const AcmeRfc2136&) const = default;
};

// One solver of spec.acme.solvers, for the names its selector picks: dnsNames exactly, or every
// name in (or equal to) one of dnsZones. An empty selector picks every name. A name picked by
// several solvers takes the most specific: a dnsNames match, then the longest dnsZones match,
// then a solver without selector (cert-manager's rule).
struct AcmeSolver {
  std::vector<std::string> dnsNames;
  std::vector<std::string> dnsZones;
  AcmeChallengeType type = AcmeChallengeType::kHttp01;
  std::optional<AcmeRfc2136> rfc2136;  // type kDns01
  bool operator==(const AcmeSolver&) const = default;
};

// RFC 8555 §7.3.4: the key id and MAC key a CA hands out to bind a new account to an account of
// its own (ZeroSSL, Google Trust Services, many private CAs).
struct AcmeExternalAccountBinding {
  std::string keyID;
  // A file holding the HMAC key, base64url as CAs hand it out; read like spec.source files (the
  // operator's import roots, or the manifest's directory for an Issuer declared by a manifest).
  std::string keyFile;
  bool operator==(const AcmeExternalAccountBinding&) const = default;
};

// RFC 8555. `http01: {}` alone is one http-01 solver for every name.
struct AcmeIssuer {
  std::string server;  // https URL of the directory
  std::string email;
  // PEM the ACME server's TLS certificate must chain to (a private ACME CA); empty: the system's
  // roots.
  std::string caBundle;
  // The chain whose topmost certificate's issuer CN is this is served, when the server offers it
  // (as the default or an alternate); otherwise the default chain.
  std::string preferredChain;
  std::vector<AcmeSolver> solvers;
  std::optional<AcmeExternalAccountBinding> externalAccountBinding;
  bool operator==(const AcmeIssuer&) const = default;
};

// Exactly one of selfSigned, ca and acme is set.
struct IssuerSpec {
  std::optional<SelfSignedIssuer> selfSigned;
  std::optional<CAIssuer> ca;
  std::optional<AcmeIssuer> acme;

  bool operator==(const IssuerSpec&) const = default;
};

// An ACME Issuer's registered account.
struct AcmeIssuerStatus {
  std::string uri;  // the account URL
  std::string lastRegisteredEmail;
  bool operator==(const AcmeIssuerStatus&) const = default;
};

struct IssuerStatus {
  std::vector<Condition> conditions;  // Ready
  std::optional<AcmeIssuerStatus> acme;
  bool operator==(const IssuerStatus&) const = default;
};

struct Issuer {
  static constexpr const char* kKind = "Issuer";
  ObjectMeta metadata;
  IssuerSpec spec;
  IssuerStatus status;

  bool operator==(const Issuer&) const = default;
};

}  // namespace siteplane::api

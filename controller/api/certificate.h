#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/condition.h"
#include "controller/api/duration.h"
#include "controller/api/object_meta.h"

namespace siteplane::api {

enum class KeyAlgorithm { kECDSA, kRSA, kEd25519 };
enum class RotationPolicy { kNever, kAlways };

const char* toString(KeyAlgorithm algorithm);
const char* toString(RotationPolicy policy);

inline constexpr Duration kDefaultCertificateDuration = std::chrono::hours(2160);

// The key usages a Certificate may ask for, as cert-manager spells them.
inline constexpr const char* kKeyUsages[] = {"digital signature", "key encipherment", "server auth",
                                             "client auth",       "cert sign",        "crl sign"};

struct PrivateKeySpec {
  KeyAlgorithm algorithm = KeyAlgorithm::kECDSA;
  int size = 256;  // ECDSA 256|384, RSA 2048|3072|4096, 0 for Ed25519
  RotationPolicy rotationPolicy = RotationPolicy::kNever;

  bool operator==(const PrivateKeySpec&) const = default;
};

struct IssuerReference {
  std::string name;
  std::string kind = "Issuer";

  bool operator==(const IssuerReference&) const = default;
};

// Import of existing material (IIS "Import"): PEM certificate + key, or PKCS#12. Relative paths
// written in a manifest file are resolved against the file's directory by the decoder.
struct CertificateSource {
  std::string certificateFile;
  std::string privateKeyFile;
  std::string pkcs12File;
  std::string pkcs12PasswordFile;
  // Kubernetes mode: an existing kubernetes.io/tls Secret in the Certificate's namespace, instead
  // of files.
  std::string secretName;

  bool operator==(const CertificateSource&) const = default;
};

struct CertificateSpec {
  std::string commonName;
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;
  Duration duration = kDefaultCertificateDuration;
  Duration renewBefore = kDefaultCertificateDuration / 3;
  PrivateKeySpec privateKey;
  bool isCA = false;
  // Defaults to digital signature, key encipherment, server auth; "cert sign" is added for a CA.
  std::vector<std::string> usages;
  // Exactly one of issuerRef and source is set.
  std::optional<IssuerReference> issuerRef;
  std::optional<CertificateSource> source;
  // Kubernetes mode: the Secret that holds the material; empty: "<name>-tls".
  std::string secretName;

  bool operator==(const CertificateSpec&) const = default;
};

// One authorization of an ACME order, as last seen.
struct AcmeAuthorizationStatus {
  std::string identifier;  // the DNS name ("*.example.com" for a wildcard)
  std::string url;
  std::string state;      // pending, valid, invalid, ...
  std::string challenge;  // the challenge type answered: http-01, tls-alpn-01
  // What every replica's data plane answers the challenge with (public values: the CA's
  // validator reads them over plain http). Set while the authorization is pending.
  std::string token;
  std::string keyAuthorization;
  // The note of what the challenge waits for, if anything ("an http binding of x to listen").
  std::string waitingFor;
  bool operator==(const AcmeAuthorizationStatus&) const = default;
};

// The ACME order in progress for a Certificate whose Issuer is ACME. Persisted so that a restart
// resumes the order instead of placing another one.
struct AcmeOrderStatus {
  std::string url;
  std::string state;                  // pending, ready, processing, valid, invalid
  std::vector<std::string> dnsNames;  // what the order is for
  std::vector<AcmeAuthorizationStatus> authorizations;
  bool operator==(const AcmeOrderStatus&) const = default;
};

struct CertificateStatus {
  std::vector<Condition> conditions;  // Ready, Issuing
  std::string thumbprint;             // SHA-1 of the DER certificate, upper-case hex
  std::string sha256Fingerprint;
  std::string serialNumber;
  std::string issuer;
  std::string subject;
  std::vector<std::string> dnsNames;
  std::optional<Time> notBefore;
  std::optional<Time> notAfter;
  std::optional<Time> renewalTime;
  int64_t revision = 0;
  std::optional<AcmeOrderStatus> acmeOrder;  // status.acme.order

  bool operator==(const CertificateStatus&) const = default;
};

struct Certificate {
  static constexpr const char* kKind = "Certificate";
  ObjectMeta metadata;
  CertificateSpec spec;
  CertificateStatus status;

  bool operator==(const Certificate&) const = default;
};

}  // namespace siteplane::api

#pragma once

// An X.509 certificate: PEM/DER decoding and encoding (single and chains) and the facts the
// controller reports in Certificate status and checks before serving (thumbprint, validity window,
// SANs, CA flag, usages, host-name coverage).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/certs/private_key.h"

typedef struct x509_st X509;

namespace siteplane::certs {

// The values of Certificate spec.usages. The first four-and-two split matters to X.509: digital
// signature, key encipherment, cert sign and crl sign are keyUsage bits; server auth and client
// auth are extendedKeyUsage purposes.
enum class Usage {
  kDigitalSignature,
  kKeyEncipherment,
  kServerAuth,
  kClientAuth,
  kCertSign,
  kCrlSign
};

// "digital signature", "key encipherment", "server auth", "client auth", "cert sign", "crl sign".
std::string_view usageName(Usage usage);
std::optional<Usage> parseUsage(std::string_view name);
// spec.usages when absent: digital signature, key encipherment, server auth.
std::vector<Usage> defaultUsages();

// Where `now` falls in a certificate's validity window. The names of the non-valid values are the
// condition reasons the reconciler reports (Ready=False reason Expired / NotYetValid).
enum class Validity { kValid, kNotYetValid, kExpired };
std::string_view validityReason(Validity validity);  // "Valid", "NotYetValid", "Expired"

// What a certificate says about itself, decoded once.
struct CertificateInfo {
  // SHA-1 of the DER encoding, upper-case hex without separators: the "certificate hash" IIS,
  // netsh and PowerShell's Thumbprint show.
  std::string thumbprint;
  // SHA-256 of the DER encoding, upper-case hex without separators (the same form as thumbprint,
  // so the two compare and copy the same way; `openssl x509 -fingerprint -sha256` adds colons).
  std::string sha256Fingerprint;
  // Upper-case hex of the serial number's magnitude, two digits per byte, as `openssl x509 -serial`
  // prints it; "-" prefixed for the (non-conforming) negative serials some old CAs issued.
  std::string serialNumber;
  std::string subject;     // RFC 2253, most significant RDN last ("CN=www.contoso.com,O=Contoso")
  std::string issuer;      // RFC 2253
  std::string commonName;  // the subject's CN, "" when absent
  std::chrono::system_clock::time_point notBefore;
  std::chrono::system_clock::time_point notAfter;
  std::vector<std::string> dnsNames;     // subjectAltName dNSName entries, in certificate order
  std::vector<std::string> ipAddresses;  // subjectAltName iPAddress entries, textual (inet_ntop)
  bool isCA = false;                     // basicConstraints CA:TRUE
  std::optional<int> pathLength;         // basicConstraints pathLenConstraint
  // Issuer name == subject name and, when both are present, the authority key identifier is the
  // subject key identifier. The signature itself is not checked here: that costs a public-key
  // operation per certificate and isSignedBy does it where it matters.
  bool selfSigned = false;
  // keyUsage bits by usage name ("digital signature", "key encipherment", "cert sign", "crl sign",
  // and the others X.509 defines: "content commitment", "key agreement", "data encipherment",
  // "encipher only", "decipher only"). Empty when the extension is absent.
  std::vector<std::string> keyUsages;
  // extendedKeyUsage purposes ("server auth", "client auth", "code signing", "email protection",
  // "time stamping", "ocsp signing", "any"), or the dotted OID for others. Empty when absent.
  std::vector<std::string> extendedKeyUsages;
  std::string publicKeyAlgorithm;  // "ECDSA", "RSA", "Ed25519", or OpenSSL's name for others
  int publicKeyBits = 0;
};

class Certificate {
 public:
  // Exactly one certificate ("CERTIFICATE" PEM block); more than one is an error naming the count.
  static Result<Certificate> fromPem(std::string_view pem);
  // Every "CERTIFICATE" block in `pem`, in file order; at least one. Other PEM blocks (keys,
  // parameters) are skipped so a combined "cert + key" file can be read.
  static Result<std::vector<Certificate>> chainFromPem(std::string_view pem);
  static Result<Certificate> fromDer(std::string_view der);
  // Takes a reference of `certificate` (X509_up_ref); the caller keeps its own.
  static Certificate fromNative(X509* certificate);

  std::string toPem() const;
  std::string toDer() const;
  static std::string chainToPem(const std::vector<Certificate>& chain);

  const CertificateInfo& info() const { return *info_; }
  const std::string& thumbprint() const { return info_->thumbprint; }

  // Whether a TLS client connecting to `host` accepts this certificate by name (RFC 6125):
  // - names compare case-insensitively, one trailing dot ignored;
  // - an IP literal (v4, v6, v6 in brackets) matches only iPAddress SANs, by address value;
  // - "*." + name in a SAN matches exactly one extra, non-empty left-most label, and only when
  //   name has at least two labels ("*.com" or "*.local" match nothing); partial-label wildcards
  //   ("w*.contoso.com") match nothing;
  // - `host` itself may be a binding's wildcard ("*.contoso.com"): it is covered only by the same
  //   wildcard SAN, since a certificate for one name cannot serve every name below it;
  // - the subject CN counts only when the certificate has no DNS or IP SAN at all (RFC 6125 6.4.4).
  bool coversHost(std::string_view host) const;

  // kNotYetValid when now < notBefore, kExpired when now > notAfter, else kValid. `now` is
  // injected so renewal and tests do not depend on the wall clock.
  Validity validityAt(std::chrono::system_clock::time_point now) const;

  // True when `issuer` issued this certificate: its subject is our issuer name (and key
  // identifiers agree when present) and our signature verifies with its public key.
  bool isSignedBy(const Certificate& issuer) const;

  // Same DER encoding.
  bool operator==(const Certificate& other) const { return thumbprint() == other.thumbprint(); }

  X509* native() const { return x509_.get(); }

 private:
  Certificate(std::shared_ptr<X509> x509, std::shared_ptr<const CertificateInfo> info)
      : x509_(std::move(x509)), info_(std::move(info)) {}
  static Certificate adopt(X509* certificate);

  std::shared_ptr<X509> x509_;
  std::shared_ptr<const CertificateInfo> info_;
};

// RFC 6125 comparison of one SAN dNSName (possibly "*.name") with a presented host name; the DNS
// part of Certificate::coversHost, exposed for the reconciler's binding checks.
bool dnsNameMatches(std::string_view sanName, std::string_view host);

// When to renew: notAfter - renewBefore, or two thirds into the validity window when renewBefore
// is absent (cert-manager's default of renewBefore = duration / 3).
std::chrono::system_clock::time_point renewalTime(const CertificateInfo& info,
                                                  std::optional<std::chrono::seconds> renewBefore);

}  // namespace siteplane::certs

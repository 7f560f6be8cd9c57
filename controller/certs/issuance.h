#pragma once

// Issuing X.509 v3 certificates: self-signed (Issuer spec.selfSigned) and signed by a CA
// certificate (Issuer spec.ca). Every issued certificate has a random positive 16-byte serial,
// basicConstraints (critical), keyUsage (critical), extendedKeyUsage for server/client auth,
// subjectAltName, subjectKeyIdentifier and authorityKeyIdentifier.

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"
#include "controller/certs/certificate.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/private_key.h"

namespace siteplane::certs {

// A certificate for `key`, signed by `key`. Fails with validateTemplate's message for a bad
// template.
Result<Certificate> issueSelfSigned(const CertificateTemplate& request, const PrivateKey& key);

// The self-signed certificate a tls-alpn-01 challenge is answered with (RFC 8737 §3): `dnsName`
// as its only subjectAltName and the critical acmeIdentifier extension holding
// `keyAuthorizationDigest` (SHA-256 of the key authorization, 32 bytes). Valid for a week from an
// hour before `now`.
Result<Certificate> issueAcmeChallengeCertificate(const std::string& dnsName,
                                                  std::string_view keyAuthorizationDigest,
                                                  const PrivateKey& key,
                                                  std::chrono::system_clock::time_point now);

// A certificate for `subjectKey`, signed by `caKey` as `caCertificate`. Before signing it checks
// that caCertificate is a CA (basicConstraints CA:TRUE, and keyUsage allows cert sign when
// present), that it is valid at `now`, and that caKey is its key; each failure says which. A
// notAfter beyond the CA's own notAfter is shortened to it, as no client would accept the rest.
// The result is the leaf only; the served chain is the leaf followed by the CA's chain.
Result<Certificate> issueSignedBy(const CertificateTemplate& request, const PublicKey& subjectKey,
                                  const Certificate& caCertificate, const PrivateKey& caKey,
                                  std::chrono::system_clock::time_point now);

}  // namespace siteplane::certs

#pragma once

// Internal to controller/certs: the v3 extensions issuance and certificate requests share, built
// as ASN.1 structures rather than config strings so no name can smuggle in extra syntax.

#include "controller/certs/certificate_template.h"
#include "controller/certs/openssl_util.h"

namespace siteplane::certs::detail {

// basicConstraints (critical), keyUsage (critical), extendedKeyUsage (when the usages include
// server or client auth) and subjectAltName (critical when the subject is empty, RFC 5280
// 4.2.1.6). Precondition: validateTemplate(request) is ok.
Result<X509ExtensionStackPtr> requestExtensions(const CertificateTemplate& request,
                                                KeyAlgorithm subjectKey);

// The subject name: CN=commonName, or empty.
Result<X509NamePtr> subjectName(const CertificateTemplate& request);

// RFC 3339 UTC ("2026-11-25T06:39:51Z") for error messages.
std::string formatTime(std::chrono::system_clock::time_point time);

}  // namespace siteplane::certs::detail

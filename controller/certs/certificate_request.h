#pragma once

// PKCS#10 certificate signing requests, for `siteplane cert request` (hand the CSR to an outside
// CA, then import what it returns).

#include <string>

#include "common/status.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/private_key.h"

namespace siteplane::certs {

// A PEM "CERTIFICATE REQUEST" for `key` with subject CN=commonName and the template's
// extensions (subjectAltName, basicConstraints, keyUsage, extendedKeyUsage) as requested
// extensions. The template's validity period is not part of a CSR and is ignored; the rest is
// checked as validateTemplate does.
Result<std::string> createCertificateRequest(const CertificateTemplate& request,
                                             const PrivateKey& key);

}  // namespace siteplane::certs

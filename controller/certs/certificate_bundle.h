#pragma once

// A certificate chain with its private key: what an issued or imported Certificate is, what the
// store keeps and what the data plane serves.

#include <string>
#include <vector>

#include "common/status.h"
#include "controller/certs/certificate.h"
#include "controller/certs/private_key.h"

namespace siteplane::certs {

struct CertificateBundle {
  std::vector<Certificate> chain;  // leaf first, each signed by the next; never empty
  PrivateKey key;                  // the leaf's key

  const Certificate& leaf() const { return chain.front(); }
  std::string chainPem() const { return Certificate::chainToPem(chain); }
};

// Orders `certificates` leaf first, each one signed by the next (the order TLS sends them in),
// whatever order a file listed them in. Duplicates are dropped. The leaf is the certificate whose
// public key is `leafKey` when given, else the one certificate that signed none of the others.
// Fails, naming the certificate by subject and thumbprint, when a certificate is not part of the
// leaf's chain, when no certificate (or more than one) can be the leaf, or when the key matches
// none of them.
Result<std::vector<Certificate>> orderChain(std::vector<Certificate> certificates,
                                            const PrivateKey* leafKey = nullptr);

}  // namespace siteplane::certs

#pragma once

// What a certificate to be issued (or requested) should say. The Certificate reconciler maps
// Certificate spec onto this; durations arrive already parsed (the api module parses "90d").

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/certs/certificate.h"

namespace siteplane::certs {

struct CertificateTemplate {
  std::string commonName;             // subject CN; at most 64 characters (RFC 5280 ub-common-name)
  std::vector<std::string> dnsNames;  // DNS names, "*.name" wildcards allowed
  std::vector<std::string> ipAddresses;  // IPv4/IPv6 literals
  std::chrono::system_clock::time_point notBefore;
  std::chrono::system_clock::time_point notAfter;
  bool isCA = false;
  std::vector<Usage> usages;  // empty: defaultUsages()

  // Sets notBefore = start and notAfter = start + duration (spec.duration).
  CertificateTemplate& validFor(std::chrono::system_clock::time_point start,
                                std::chrono::seconds duration) {
    notBefore = start;
    notAfter = start + duration;
    return *this;
  }
};

// Checks everything issuance relies on and returns every problem at once, each prefixed with its
// field ("dnsNames[1]: 'a b' is not a valid DNS name; notAfter: must be after notBefore"). The
// reconciler prefixes "spec.".
Status validateTemplate(const CertificateTemplate& request);

// The usages a certificate for a `subjectKey` key issued from `request` carries: usages (or the
// defaults when empty), plus "cert sign" for a CA, without duplicates, in Usage order. "key
// encipherment" is dropped for ECDSA and Ed25519 keys, which cannot encipher keys: RFC 5480 and
// RFC 8410 forbid the bit for them (it is in the defaults for RSA, as cert-manager has it).
std::vector<Usage> effectiveUsages(const CertificateTemplate& request, KeyAlgorithm subjectKey);

// Why a certificate issued earlier for `request` no longer fits it, e.g. after a spec change (what
// cert-manager calls RequestChanged): one "field: certificate has X, spec wants Y" line per
// difference, empty when it still fits. Compares what the request controls: commonName, the
// effective DNS names and IP addresses (as sets, case- and spelling-insensitive), isCA and the
// effective usages. Not the validity period (renewal handles time, and a CA may have shortened
// it) nor the key (see PrivateKey::matchesSpec).
std::vector<std::string> differencesFrom(const CertificateTemplate& request,
                                         KeyAlgorithm subjectKey, const CertificateInfo& issued);

// The SAN entries a certificate issued from `request` carries: dnsNames and ipAddresses, plus (for
// a non-CA certificate) the commonName when it is a DNS name or IP literal not already listed.
// Clients ignore the CN since RFC 6125 (browsers since 2017), so a CN-only request would otherwise
// give an unusable server certificate; a CA's CN is a label, not a host.
std::vector<std::string> effectiveDnsNames(const CertificateTemplate& request);
std::vector<std::string> effectiveIpAddresses(const CertificateTemplate& request);

// A DNS name as a SAN may hold it: dot-separated labels of letters, digits and '-' (not at either
// end of a label), each 1..63 characters, 253 at most in all; "*." may prefix it.
bool isValidDnsName(std::string_view name);
bool isIpLiteral(std::string_view text);

}  // namespace siteplane::certs

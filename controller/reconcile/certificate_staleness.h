#pragma once

// Whether the material an issued Certificate has in the certificate store still does, as a chain
// of small policies in the manner of cert-manager's trigger policies
// (internal/controller/certificates/policies): each looks at one thing and either says why the
// material is stale or says nothing; the first policy of the chain that speaks gives the Issuing
// condition's reason and message, and the Certificate is re-issued.

#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <string>

#include "controller/api/certificate.h"
#include "controller/certs/certificate.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/private_key.h"
#include "controller/reconcile/issuer_reconciler.h"

namespace siteplane::reconcile {

// Why a piece of stored material no longer is what is wanted: the Issuing condition's reason (a
// certificate_reason) and message.
struct Staleness {
  const char* reason;
  std::string message;
};

// What the policies look at. Every policy but materialMissing says nothing while `current` is
// null (there is nothing to compare).
struct StalenessInput {
  // What the certificate store holds; null when it holds nothing usable.
  const certs::CertificateBundle* current = nullptr;
  // Why what the certificate store holds cannot be used (its error); empty when it holds nothing.
  std::string unreadable;
  const api::CertificateSpec& spec;
  // `spec` as what to issue.
  const certs::CertificateTemplate& request;
  // Who signs now. One that is not ready is not compared with the stored chain: a valid
  // certificate is not stale because its Issuer cannot sign at the moment.
  const Signer& signer;
  std::string issuerRef;  // "namespace/name", as messages name the Issuer
  std::chrono::system_clock::time_point now;
};

using StalenessPolicy = std::optional<Staleness> (*)(const StalenessInput& input);

// Nothing usable is stored: DoesNotExist, or InvalidMaterial when the stored key pair cannot be
// read.
std::optional<Staleness> materialMissing(const StalenessInput& input);
// The stored private key is not of the algorithm and size spec.privateKey asks for: SpecChanged.
std::optional<Staleness> privateKeyMismatch(const StalenessInput& input);
// The certificate no longer says what spec asks for (commonName, names, isCA, usages:
// certs::differencesFrom; what cert-manager calls RequestChanged): SpecChanged.
std::optional<Staleness> requestMismatch(const StalenessInput& input);
// The certificate's lifetime is not spec.duration: SpecChanged. Not when it is shorter because its
// notAfter is its CA's (a leaf does not outlive its CA), or may be so while the CA is unknown.
std::optional<Staleness> durationMismatch(const StalenessInput& input);
// A ready signer is not what signed the stored chain (a self-signed certificate for a CA Issuer,
// another CA certificate, or a CA-signed one for a self-signed Issuer): IssuerChanged.
std::optional<Staleness> issuerMismatch(const StalenessInput& input);
// Past notAfter: Expired.
std::optional<Staleness> expired(const StalenessInput& input);
// Before notBefore: NotYetValid.
std::optional<Staleness> notYetValid(const StalenessInput& input);
// renewalOf() has come: Renewing.
std::optional<Staleness> renewalDue(const StalenessInput& input);

// The Certificate reconciler's chain, in precedence order: what is wrong with the material itself
// before who signed it, and both before time, so that a spec change shows as SpecChanged even
// when the certificate has expired meanwhile, and an expired certificate as Expired rather than
// Renewing.
inline constexpr std::array<StalenessPolicy, 8> kStalenessPolicies = {
    materialMissing, privateKeyMismatch, requestMismatch, durationMismatch, issuerMismatch,
    expired,         notYetValid,        renewalDue,
};

// ACME: the names the stored certificate carries are not the ones to order (acmeIdentifiers):
// SpecChanged. The rest of what requestMismatch compares is the CA's to decide.
std::optional<Staleness> acmeNamesMismatch(const StalenessInput& input);
// ACME: the stored certificate is self-signed (the Certificate had a selfSigned Issuer before):
// IssuerChanged.
std::optional<Staleness> acmeIssuerMismatch(const StalenessInput& input);

// The chain for an ACME Issuer, whose CA chooses usages, lifetime and intermediates.
inline constexpr std::array<StalenessPolicy, 7> kAcmeStalenessPolicies = {
    materialMissing, privateKeyMismatch, acmeNamesMismatch, acmeIssuerMismatch,
    expired,         notYetValid,        renewalDue,
};

// The DNS names an ACME order for `request` asks for, sorted and without duplicates: dnsNames
// and the commonName (lower case).
std::vector<std::string> acmeIdentifiers(const certs::CertificateTemplate& request);

// What the first policy of `chain` that finds the material stale says; nullopt when none does.
std::optional<Staleness> firstStaleness(
    const StalenessInput& input, std::span<const StalenessPolicy> chain = kStalenessPolicies);

// When a certificate issued for `spec` is due for renewal: renewBefore as the spec says, unless
// the certificate is shorter-lived than that (its CA expires sooner); then a third of its actual
// lifetime, so that renewal never falls before notBefore and re-issues in a loop.
std::chrono::system_clock::time_point renewalOf(const certs::CertificateInfo& info,
                                                const api::CertificateSpec& spec);

// spec.privateKey in certs:: terms: the algorithm, and the size in the bits PrivateKey::bits()
// reports (0 for Ed25519, whose size is fixed).
certs::KeyAlgorithm keyAlgorithm(api::KeyAlgorithm algorithm);
int wantedKeyBits(const api::PrivateKeySpec& spec);
bool keyFitsSpec(const certs::PrivateKey& key, const api::PrivateKeySpec& spec);

}  // namespace siteplane::reconcile

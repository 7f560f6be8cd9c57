#include "controller/reconcile/certificate_staleness.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

#include "common/ascii.h"
#include "controller/api/duration.h"
#include "controller/reconcile/certificate_reconciler.h"
#include "controller/reconcile/certificate_status.h"

namespace siteplane::reconcile {
namespace {

namespace reason = certificate_reason;
using std::chrono::system_clock;

std::string describeKey(certs::KeyAlgorithm algorithm, int bits) {
  std::string name(certs::keyAlgorithmName(algorithm));
  return bits > 0 && algorithm != certs::KeyAlgorithm::kEd25519 ? fmt::format("{} {}", name, bits)
                                                                : name;
}

}  // namespace

certs::KeyAlgorithm keyAlgorithm(api::KeyAlgorithm algorithm) {
  switch (algorithm) {
    case api::KeyAlgorithm::kRSA:
      return certs::KeyAlgorithm::kRsa;
    case api::KeyAlgorithm::kEd25519:
      return certs::KeyAlgorithm::kEd25519;
    case api::KeyAlgorithm::kECDSA:
      break;
  }
  return certs::KeyAlgorithm::kEcdsa;
}

int wantedKeyBits(const api::PrivateKeySpec& spec) {
  auto algorithm = keyAlgorithm(spec.algorithm);
  if (algorithm == certs::KeyAlgorithm::kEd25519) return 0;
  return spec.size > 0 ? spec.size : certs::defaultKeySize(algorithm);
}

bool keyFitsSpec(const certs::PrivateKey& key, const api::PrivateKeySpec& spec) {
  return key.matchesSpec(keyAlgorithm(spec.algorithm), wantedKeyBits(spec));
}

system_clock::time_point renewalOf(const certs::CertificateInfo& info,
                                   const api::CertificateSpec& spec) {
  std::optional<std::chrono::seconds> renewBefore = spec.renewBefore;
  if (info.notAfter - info.notBefore <= spec.renewBefore) renewBefore.reset();
  return certs::renewalTime(info, renewBefore);
}

std::optional<Staleness> materialMissing(const StalenessInput& input) {
  if (input.current) return std::nullopt;
  if (!input.unreadable.empty())
    return Staleness{reason::kInvalidMaterial,
                     fmt::format("the stored key pair cannot be used: {}", input.unreadable)};
  return Staleness{reason::kDoesNotExist, "no certificate has been issued yet"};
}

std::optional<Staleness> privateKeyMismatch(const StalenessInput& input) {
  if (!input.current) return std::nullopt;
  const certs::PrivateKey& key = input.current->key;
  const api::PrivateKeySpec& wanted = input.spec.privateKey;
  if (keyFitsSpec(key, wanted)) return std::nullopt;
  return Staleness{reason::kSpecChanged,
                   fmt::format("the private key is {}, spec.privateKey asks for {}",
                               describeKey(key.algorithm(), key.bits()),
                               describeKey(keyAlgorithm(wanted.algorithm), wantedKeyBits(wanted)))};
}

std::optional<Staleness> requestMismatch(const StalenessInput& input) {
  if (!input.current) return std::nullopt;
  std::vector<std::string> differences = certs::differencesFrom(
      input.request, input.current->key.algorithm(), input.current->leaf().info());
  if (differences.empty()) return std::nullopt;
  return Staleness{reason::kSpecChanged, fmt::format("{}", fmt::join(differences, "; "))};
}

std::optional<Staleness> durationMismatch(const StalenessInput& input) {
  if (!input.current) return std::nullopt;
  const certs::CertificateInfo& info = input.current->leaf().info();
  const auto& duration = input.spec.duration;
  auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(info.notAfter - info.notBefore);
  if (lifetime == duration) return std::nullopt;
  // Shortened to the CA's notAfter (or, with the CA unknown right now, possibly so). A
  // self-signed certificate has no CA to be shortened by: shorter than asked is stale.
  const certs::Certificate* caLeaf = input.signer.ca ? &input.signer.ca->leaf() : nullptr;
  bool shortenedByCA = lifetime < duration && !input.signer.selfSigned &&
                       (!caLeaf || toTime(info.notAfter) == toTime(caLeaf->info().notAfter));
  if (shortenedByCA) return std::nullopt;
  return Staleness{reason::kSpecChanged,
                   fmt::format("the certificate is valid for {}, spec.duration is {}",
                               api::formatDuration(lifetime), api::formatDuration(duration))};
}

std::optional<Staleness> issuerMismatch(const StalenessInput& input) {
  if (!input.current || !input.signer.ready) return std::nullopt;
  const certs::CertificateBundle& bundle = *input.current;
  const certs::Certificate& leaf = bundle.leaf();
  if (input.signer.selfSigned) {
    if (leaf.info().selfSigned && bundle.chain.size() == 1) return std::nullopt;
    return Staleness{reason::kIssuerChanged,
                     fmt::format("the certificate is signed by \"{}\", Issuer {} is self-signed",
                                 leaf.info().issuer, input.issuerRef)};
  }
  const certs::CertificateBundle& ca = *input.signer.ca;
  bool sameChain = bundle.chain.size() == ca.chain.size() + 1 &&
                   std::equal(ca.chain.begin(), ca.chain.end(), bundle.chain.begin() + 1);
  if (sameChain && leaf.isSignedBy(ca.leaf())) return std::nullopt;
  return Staleness{reason::kIssuerChanged,
                   fmt::format("the certificate is not signed by the current CA certificate {} "
                               "of Issuer {}",
                               ca.leaf().thumbprint(), input.issuerRef)};
}

std::vector<std::string> acmeIdentifiers(const certs::CertificateTemplate& request) {
  std::vector<std::string> names = request.dnsNames;
  if (!request.commonName.empty()) names.push_back(request.commonName);
  for (std::string& name : names) name = toLowerAscii(name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::optional<Staleness> acmeNamesMismatch(const StalenessInput& input) {
  if (!input.current) return std::nullopt;
  std::vector<std::string> wanted = acmeIdentifiers(input.request);
  certs::CertificateTemplate held;
  held.dnsNames = input.current->leaf().info().dnsNames;
  std::vector<std::string> have = acmeIdentifiers(held);
  if (have == wanted) return std::nullopt;
  return Staleness{reason::kSpecChanged,
                   fmt::format("the certificate is for {}, the spec asks for {}",
                               fmt::join(have, ", "), fmt::join(wanted, ", "))};
}

std::optional<Staleness> acmeIssuerMismatch(const StalenessInput& input) {
  if (!input.current || !input.current->leaf().info().selfSigned) return std::nullopt;
  return Staleness{
      reason::kIssuerChanged,
      fmt::format("the certificate is self-signed, Issuer {} is an ACME issuer", input.issuerRef)};
}

std::optional<Staleness> expired(const StalenessInput& input) {
  if (!input.current) return std::nullopt;
  const certs::Certificate& leaf = input.current->leaf();
  if (leaf.validityAt(input.now) != certs::Validity::kExpired) return std::nullopt;
  return Staleness{reason::kExpired,
                   fmt::format("the certificate expired at {}", formatTime(leaf.info().notAfter))};
}

std::optional<Staleness> notYetValid(const StalenessInput& input) {
  if (!input.current) return std::nullopt;
  const certs::Certificate& leaf = input.current->leaf();
  if (leaf.validityAt(input.now) != certs::Validity::kNotYetValid) return std::nullopt;
  return Staleness{reason::kNotYetValid, fmt::format("the certificate is not valid before {}",
                                                     formatTime(leaf.info().notBefore))};
}

std::optional<Staleness> renewalDue(const StalenessInput& input) {
  if (!input.current) return std::nullopt;
  system_clock::time_point renewal = renewalOf(input.current->leaf().info(), input.spec);
  if (input.now < renewal) return std::nullopt;
  return Staleness{reason::kRenewing, fmt::format("renewal time {} reached", formatTime(renewal))};
}

std::optional<Staleness> firstStaleness(const StalenessInput& input,
                                        std::span<const StalenessPolicy> chain) {
  for (StalenessPolicy policy : chain) {
    if (auto stale = policy(input)) return stale;
  }
  return std::nullopt;
}

}  // namespace siteplane::reconcile

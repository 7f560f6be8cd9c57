// CertificateReconciler::issue: a Certificate with spec.issuerRef, issued and renewed by its
// Issuer. What makes stored material stale is certificate_staleness.h.

#include <fmt/format.h>

#include <optional>
#include <string>
#include <variant>

#include "common/logging.h"
#include "controller/api/object_codec.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/issuance.h"
#include "controller/certs/private_key.h"
#include "controller/reconcile/certificate_reconciler.h"
#include "controller/reconcile/certificate_staleness.h"
#include "controller/reconcile/certificate_status.h"

namespace siteplane::reconcile {
namespace {

namespace reason = certificate_reason;
using std::chrono::system_clock;

// spec -> what to issue (the validity window is set at issuance).
Result<certs::CertificateTemplate> templateFor(const api::CertificateSpec& spec) {
  certs::CertificateTemplate request;
  request.commonName = spec.commonName;
  request.dnsNames = spec.dnsNames;
  request.ipAddresses = spec.ipAddresses;
  request.isCA = spec.isCA;
  for (size_t i = 0; i < spec.usages.size(); ++i) {
    auto usage = certs::parseUsage(spec.usages[i]);
    if (!usage)
      return Result<certs::CertificateTemplate>::error(
          fmt::format("spec.usages[{}]: unknown usage \"{}\"", i, spec.usages[i]));
    request.usages.push_back(*usage);
  }
  return request;
}

// Who signs for a Certificate's spec.issuerRef now.
struct IssuerSigner {
  std::string ref;    // "namespace/name", as messages name the Issuer
  bool found = true;  // false: no such Issuer (IssuerNotFound rather than IssuerNotReady)
  Signer signer;      // when not ready, its message says why, naming the Issuer
};

// Fails only when the store cannot be read; an Issuer that is missing, does not decode or cannot
// sign is a Signer that is not ready.
Result<IssuerSigner> resolveIssuerRef(const store::Store& store,
                                      const certs::CertificateStore& certificates,
                                      const api::Certificate& certificate,
                                      system_clock::time_point now) {
  const std::string& ns = certificate.metadata.namespaceName;
  const std::string& name = certificate.spec.issuerRef->name;
  IssuerSigner issuer;
  issuer.ref = ns + "/" + name;
  auto object = store.get({IssuerReconciler::kKind, ns, name});
  if (!object) {
    if (object.code() != ErrorCode::kNotFound) return object.status();
    issuer.found = false;
    issuer.signer.message = fmt::format("Issuer {} not found", issuer.ref);
    return issuer;
  }
  api::DecodeResult decoded = api::decodeObject(**object);
  const auto* decodedIssuer = decoded.ok() ? std::get_if<api::Issuer>(&*decoded.object) : nullptr;
  if (!decodedIssuer) {
    issuer.signer.message =
        fmt::format("Issuer {} is stored in a form that does not decode", issuer.ref);
    return issuer;
  }
  issuer.signer = resolveSigner(store, certificates, ns, decodedIssuer->spec, now);
  if (!issuer.signer.ready)
    issuer.signer.message = fmt::format("Issuer {} cannot sign: {}: {}", issuer.ref,
                                        issuer.signer.reason, issuer.signer.message);
  return issuer;
}

// One reconcile's look at an issued Certificate: what is stored, who signs, and the status it
// writes.
struct IssueAttempt {
  api::Certificate& certificate;
  const std::string& storeKey;
  system_clock::time_point now;
  ConditionSetter setCondition;
  std::optional<certs::CertificateBundle> current;  // what the certificate store holds
  std::optional<system_clock::time_point> renewal;  // current's renewal time
  IssuerSigner issuer;
};

// Ready=True Issued and Issuing=False UpToDate for `leaf`, renewed at `renewal`.
ReconcileResult markIssued(IssueAttempt& attempt, const certs::Certificate& leaf,
                           system_clock::time_point renewal) {
  attempt.setCondition(
      "Ready", true, reason::kIssued,
      fmt::format("certificate {} issued by Issuer {}, valid until {}", leaf.thumbprint(),
                  attempt.issuer.ref, formatTime(leaf.info().notAfter)));
  attempt.setCondition(
      "Issuing", false, reason::kUpToDate,
      fmt::format("the certificate matches the spec; renewal at {}", formatTime(renewal)));
  return requeueAt(renewal, attempt.now);
}

// The material is stale and the Issuer cannot sign: wait for it, an event or `blockedRetry`.
ReconcileResult waitForIssuer(IssueAttempt& attempt, const Staleness& stale,
                              Clock::Duration blockedRetry) {
  const Signer& signer = attempt.issuer.signer;
  const char* why = attempt.issuer.found ? reason::kIssuerNotReady : reason::kIssuerNotFound;
  // A valid certificate that is merely due for renewal keeps serving while the issuer cannot
  // sign; one that is missing, expired or no longer what the spec says does not.
  const certs::CertificateBundle* current = attempt.current ? &*attempt.current : nullptr;
  bool keepServing = current && std::string_view(stale.reason) == reason::kRenewing;
  if (current) describe(attempt.certificate.status, current->leaf(), attempt.renewal);
  if (keepServing) {
    attempt.setCondition(
        "Ready", true, reason::kIssued,
        fmt::format("certificate {} issued by Issuer {}, valid until {}; renewal waits: {}",
                    current->leaf().thumbprint(), attempt.issuer.ref,
                    formatTime(current->leaf().info().notAfter), signer.message));
  } else {
    attempt.setCondition("Ready", false, why, signer.message);
  }
  attempt.setCondition("Issuing", true, stale.reason,
                       fmt::format("{}; waiting: {}", stale.message, signer.message));
  logger("controller.reconcile")
      ->debug("certificate_issue_blocked key={}/{} generation={} reason={} message=\"{}\"",
              CertificateReconciler::kKind, attempt.storeKey,
              attempt.certificate.metadata.generation, why, signer.message);
  const system_clock::time_point now = attempt.now;
  if (signer.changesAt && *signer.changesAt > now && *signer.changesAt - now < blockedRetry)
    return requeueAt(*signer.changesAt, now);
  return ReconcileResult::requeueAfter(blockedRetry);
}

// The leaf for `key`, signed as `signer` says, followed by the signing CA's chain.
Result<certs::CertificateBundle> sign(const certs::CertificateTemplate& request,
                                      const certs::PrivateKey& key, const Signer& signer,
                                      system_clock::time_point now) {
  auto leaf = signer.selfSigned ? certs::issueSelfSigned(request, key)
                                : certs::issueSignedBy(request, key.publicKey(), signer.ca->leaf(),
                                                       signer.ca->key, now);
  if (!leaf) return leaf.status();
  certs::CertificateBundle bundle{{*leaf}, key};
  if (signer.ca)
    bundle.chain.insert(bundle.chain.end(), signer.ca->chain.begin(), signer.ca->chain.end());
  return bundle;
}

// Issues anew (the signer is ready) and stores the result, then status: see the class comment.
ReconcileResult reissue(IssueAttempt& attempt, const Staleness& stale,
                        certs::CertificateTemplate request,
                        const std::function<Status(const certs::CertificateBundle&)>& store) {
  auto log = logger("controller.reconcile");
  const api::CertificateSpec& spec = attempt.certificate.spec;
  api::CertificateStatus& status = attempt.certificate.status;
  const int64_t generation = attempt.certificate.metadata.generation;
  auto fail = [&](const std::string& message) {
    if (attempt.current) describe(status, attempt.current->leaf(), attempt.renewal);
    attempt.setCondition("Ready", false, reason::kIssuanceFailed, message);
    attempt.setCondition("Issuing", false, reason::kFailed, message);
    log->warn("certificate_issue_failed key={}/{} generation={} error=\"{}\"",
              CertificateReconciler::kKind, attempt.storeKey, generation, message);
    return ReconcileResult::retry(message);
  };
  // The key stays unless the policy rotates it or it no longer fits the spec.
  const bool reuseKey = attempt.current &&
                        spec.privateKey.rotationPolicy == api::RotationPolicy::kNever &&
                        keyFitsSpec(attempt.current->key, spec.privateKey);
  auto key = reuseKey ? Result<certs::PrivateKey>(attempt.current->key)
                      : certs::PrivateKey::generate(keyAlgorithm(spec.privateKey.algorithm),
                                                    wantedKeyBits(spec.privateKey));
  if (!key) return fail(fmt::format("generating the private key: {}", key.message()));
  request.validFor(toTime(attempt.now), spec.duration);
  auto bundle = sign(request, *key, attempt.issuer.signer, attempt.now);
  if (!bundle) return fail(fmt::format("issuing: {}", bundle.message()));
  Status put = store(*bundle);
  if (!put.isOk())
    return ReconcileResult::retry(fmt::format("certificate store: {}", put.message()));

  const certs::Certificate& leaf = bundle->leaf();
  auto renewal = renewalOf(leaf.info(), spec);
  describe(status, leaf, renewal);
  log->info(
      "certificate_issued key={}/{} generation={} revision={} thumbprint={} reason={} "
      "key_reused={} not_after={} renewal={} issuer={}",
      CertificateReconciler::kKind, attempt.storeKey, generation, status.revision,
      leaf.thumbprint(), stale.reason, reuseKey, formatTime(leaf.info().notAfter),
      formatTime(renewal), attempt.issuer.ref);
  return markIssued(attempt, leaf, renewal);
}

}  // namespace

ReconcileResult CertificateReconciler::issue(api::Certificate& certificate,
                                             const std::string& storeKey,
                                             system_clock::time_point now) {
  ConditionSetter setCondition(certificate, now);
  // No longer imported (if it ever was): forget what the import saw.
  forgetImport(storeKey);
  auto request = templateFor(certificate.spec);
  if (!request) {
    setCondition("Ready", false, reason::kIssuanceFailed, request.message());
    setCondition("Issuing", false, reason::kFailed, request.message());
    return ReconcileResult::done();
  }

  // What is stored now, and who signs.
  IssueAttempt attempt{certificate, storeKey, now, setCondition, std::nullopt, std::nullopt, {}};
  std::string unreadable;
  auto stored = certificates_.get(storeKey);
  if (!stored) {
    unreadable = stored.message();
  } else if (stored->has_value()) {
    attempt.current = std::move(**stored);
    attempt.renewal = renewalOf(attempt.current->leaf().info(), certificate.spec);
  }
  auto issuer = resolveIssuerRef(store_, certificates_, certificate, now);
  if (!issuer) return ReconcileResult::retry(issuer.message());
  attempt.issuer = std::move(*issuer);

  const bool acmeIssuer = attempt.issuer.signer.acme.has_value();
  if (!acmeIssuer && certificate.status.acmeOrder) {
    certificate.status.acmeOrder.reset();
    abandonAcmeOrder(options_.acme, storeKey);
  }
  // Does the stored material still do?
  std::optional<Staleness> stale =
      firstStaleness({.current = attempt.current ? &*attempt.current : nullptr,
                      .unreadable = std::move(unreadable),
                      .spec = certificate.spec,
                      .request = *request,
                      .signer = attempt.issuer.signer,
                      .issuerRef = attempt.issuer.ref,
                      .now = now},
                     acmeIssuer ? std::span<const StalenessPolicy>(kAcmeStalenessPolicies)
                                : std::span<const StalenessPolicy>(kStalenessPolicies));
  if (!stale) {
    if (certificate.status.acmeOrder) {
      certificate.status.acmeOrder.reset();
      abandonAcmeOrder(options_.acme, storeKey);
    }
    describe(certificate.status, attempt.current->leaf(), attempt.renewal);
    return markIssued(attempt, attempt.current->leaf(), *attempt.renewal);
  }
  if (!attempt.issuer.signer.ready) return waitForIssuer(attempt, *stale, options_.blockedRetry);
  if (attempt.issuer.signer.acme) {
    if (!options_.acme.accounts || !options_.acme.challenges) {
      const std::string message = "this server has no ACME client configured";
      setCondition("Ready", false, reason::kIssuanceFailed, message);
      setCondition("Issuing", false, reason::kFailed, message);
      return ReconcileResult::done();
    }
    AcmeOrderStep step{certificate,
                       storeKey,
                       now,
                       setCondition,
                       attempt.current ? &*attempt.current : nullptr,
                       attempt.renewal,
                       *stale,
                       *request,
                       attempt.issuer.ref,
                       *attempt.issuer.signer.acme,
                       options_.acme,
                       [this, &storeKey](const certs::CertificateBundle& bundle) {
                         return storeMaterial(storeKey, bundle);
                       }};
    return advanceAcmeOrder(step);
  }
  return reissue(attempt, *stale, std::move(*request),
                 [this, &storeKey](const certs::CertificateBundle& bundle) {
                   return storeMaterial(storeKey, bundle);
                 });
}

}  // namespace siteplane::reconcile

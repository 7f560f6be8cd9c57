#include "controller/reconcile/issuer_reconciler.h"

#include <fmt/format.h>

#include <cctype>
#include <exception>

#include "common/base64.h"
#include "common/durable_file.h"
#include "common/logging.h"
#include "controller/api/certificate.h"
#include "controller/api/object_codec.h"
#include "controller/certs/jose_signing.h"
#include "controller/reconcile/status_writer.h"

namespace siteplane::reconcile {
namespace {

using std::chrono::system_clock;

std::string formatTime(system_clock::time_point time) {
  return api::formatTime(std::chrono::floor<std::chrono::seconds>(time));
}

Signer notReady(const char* reason, std::string message) {
  Signer signer;
  signer.reason = reason;
  signer.message = std::move(message);
  return signer;
}

Signer resolveCA(const store::Store& store, const certs::CertificateStore& certificates,
                 const std::string& ns, const std::string& name, system_clock::time_point now) {
  const std::string ref = ns + "/" + name;
  auto stored = store.get({api::Certificate::kKind, ns, name});
  if (!stored) {
    if (stored.code() == ErrorCode::kNotFound)
      return notReady(issuer_reason::kCertificateNotFound,
                      fmt::format("CA Certificate {} not found", ref));
    return notReady(issuer_reason::kCertificateNotReady,
                    fmt::format("CA Certificate {}: {}", ref, stored.message()));
  }
  api::DecodeResult decoded = api::decodeObject(**stored);
  const auto* certificate =
      decoded.ok() ? std::get_if<api::Certificate>(&*decoded.object) : nullptr;
  if (!certificate)
    return notReady(issuer_reason::kCertificateNotReady,
                    fmt::format("CA Certificate {} is stored in a form that does not decode", ref));
  if (!certificate->spec.isCA)
    return notReady(issuer_reason::kNotCA,
                    fmt::format("Certificate {} is not a CA (spec.isCA is false)", ref));

  const api::Condition* ready = api::findCondition(certificate->status.conditions, "Ready");
  if (!ready || ready->status != api::ConditionStatus::kTrue) {
    if (ready && ready->reason == issuer_reason::kExpired)
      return notReady(issuer_reason::kExpired,
                      fmt::format("CA Certificate {} has expired: {}", ref, ready->message));
    return notReady(issuer_reason::kCertificateNotReady,
                    ready ? fmt::format("CA Certificate {} is not Ready ({}: {})", ref,
                                        ready->reason, ready->message)
                          : fmt::format("CA Certificate {} is not Ready yet", ref));
  }

  auto bundle = certificates.get(ref);
  if (!bundle)
    return notReady(issuer_reason::kCertificateNotReady,
                    fmt::format("CA Certificate {}: certificate store: {}", ref, bundle.message()));
  if (!bundle->has_value())
    return notReady(issuer_reason::kCertificateNotReady,
                    fmt::format("CA Certificate {} has no key pair in the certificate store", ref));
  const certs::Certificate& leaf = (*bundle)->leaf();
  // Status and store can disagree for a moment while the CA is re-issued (the store is written
  // first); signing with a CA whose status does not show it yet would hand out chains that
  // nobody can look up.
  if (leaf.thumbprint() != certificate->status.thumbprint)
    return notReady(issuer_reason::kCertificateNotReady,
                    fmt::format("CA Certificate {} is being re-issued (stored {}, status {})", ref,
                                leaf.thumbprint(), certificate->status.thumbprint));
  if (!leaf.info().isCA)
    return notReady(issuer_reason::kNotCA,
                    fmt::format("CA Certificate {} ({}) has no basicConstraints CA:TRUE", ref,
                                leaf.thumbprint()));
  switch (leaf.validityAt(now)) {
    case certs::Validity::kExpired:
      return notReady(issuer_reason::kExpired,
                      fmt::format("CA Certificate {} ({}) expired at {}", ref, leaf.thumbprint(),
                                  formatTime(leaf.info().notAfter)));
    case certs::Validity::kNotYetValid: {
      Signer signer = notReady(issuer_reason::kCertificateNotReady,
                               fmt::format("CA Certificate {} ({}) is not valid before {}", ref,
                                           leaf.thumbprint(), formatTime(leaf.info().notBefore)));
      signer.changesAt = leaf.info().notBefore;
      return signer;
    }
    case certs::Validity::kValid:
      break;
  }
  Signer signer;
  signer.ready = true;
  signer.reason = issuer_reason::kKeyPairVerified;
  signer.message = fmt::format("signing with CA Certificate {} ({}), valid until {}", ref,
                               leaf.thumbprint(), formatTime(leaf.info().notAfter));
  signer.changesAt = leaf.info().notAfter;
  signer.ca = std::move(**bundle);
  return signer;
}

}  // namespace

Signer resolveSigner(const store::Store& store, const certs::CertificateStore& certificates,
                     const std::string& ns, const api::IssuerSpec& spec,
                     system_clock::time_point now) {
  if (spec.selfSigned) {
    Signer signer;
    signer.ready = true;
    signer.selfSigned = true;
    signer.reason = issuer_reason::kSelfSigned;
    signer.message = "self-signed issuer: each certificate is signed with its own key";
    return signer;
  }
  if (spec.ca) return resolveCA(store, certificates, ns, spec.ca->certificateRef.name, now);
  if (spec.acme) {
    Signer signer;
    signer.ready = true;
    signer.reason = issuer_reason::kACMEAccountRegistered;
    signer.message =
        fmt::format("certificates are ordered from the ACME server {}", spec.acme->server);
    signer.acme = spec.acme;
    return signer;
  }
  // The decoder enforces exactly one of the three, so this is an object stored by other means.
  return notReady(issuer_reason::kCertificateNotReady,
                  "the Issuer sets none of selfSigned, ca and acme");
}

IssuerReconciler::IssuerReconciler(store::Store& store, const certs::CertificateStore& certificates,
                                   IssuerReconcilerOptions options)
    : store_(store), certificates_(certificates), options_(options) {}

void IssuerReconciler::keysFor(const store::WatchEvent& event,
                               std::vector<QueuedKey>& keys) noexcept {
  try {
    dependencies_.observe(event);
    if (event.key.kind == kKind) {
      if (generations_.changed(event)) keys.push_back({event.key.toString(), {}});
    } else if (event.key.kind == api::Certificate::kKind) {
      // Any change of a CA Certificate (re-issued, expired, deleted) can change what the Issuers
      // signing with it can do.
      for (const auto& issuer : dependencies_.issuersUsingCA(event.key.ns, event.key.name))
        keys.push_back({ObjectKey{kKind, event.key.ns, issuer}.toString(), {}});
    }
  } catch (const std::exception& error) {
    logger("controller.reconcile")
        ->error("issuer_keys_failed key={} error=\"{}\"", event.key.toString(), error.what());
  }
}

ReconcileResult IssuerReconciler::reconcile(const std::string& key) noexcept {
  try {
    return run(key);
  } catch (const std::exception& error) {
    return ReconcileResult::retry(fmt::format("reconciling {}: {}", key, error.what()));
  }
}

Result<std::optional<acme::ExternalAccountBinding>> IssuerReconciler::externalAccountBinding(
    const api::Issuer& issuer) const {
  const auto& spec = issuer.spec.acme->externalAccountBinding;
  if (!spec) return std::optional<acme::ExternalAccountBinding>();
  auto encoded = readSecretFile(issuer, spec->keyFile);
  if (!encoded)
    return std::move(encoded).status().withContext("spec.acme.externalAccountBinding.keyFile");
  auto key = certs::base64UrlDecode(*encoded);
  if (!key || key->empty())
    return Status::error(fmt::format(
        "spec.acme.externalAccountBinding.keyFile {}: not a base64url HMAC key", spec->keyFile));
  return std::optional<acme::ExternalAccountBinding>(
      acme::ExternalAccountBinding{spec->keyID, std::move(*key)});
}

Result<std::string> IssuerReconciler::readSecretFile(const api::Issuer& issuer,
                                                     const std::string& path) const {
  auto text = options_.importPolicy
                  ? options_.importPolicy->read(
                        path, certs::importOriginOf(issuer.metadata.annotations), 4096)
                  : durable::readFile(path);
  if (!text) return text.status();
  std::string trimmed = std::move(*text);
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.pop_back();
  return trimmed;
}

Result<std::vector<std::string>> IssuerReconciler::tsigSecrets(const api::Issuer& issuer) const {
  std::vector<std::string> secrets;
  const auto& solvers = issuer.spec.acme->solvers;
  for (size_t i = 0; i < solvers.size(); ++i) {
    secrets.emplace_back();
    if (!solvers[i].rfc2136) continue;
    auto secret = readSecretFile(issuer, solvers[i].rfc2136->tsigSecretFile);
    if (!secret)
      return std::move(secret).status().withContext(
          fmt::format("spec.acme.solvers[{}].dns01.rfc2136.tsigSecretFile", i));
    if (secret->empty() || !base64Decode(*secret))
      return Status::error(fmt::format(
          "spec.acme.solvers[{}].dns01.rfc2136.tsigSecretFile {}: not a base64 TSIG secret", i,
          solvers[i].rfc2136->tsigSecretFile));
    secrets.back() = std::move(*secret);
  }
  return secrets;
}

void IssuerReconciler::registerAcmeAccount(const std::string& issuerKey, api::Issuer& issuer,
                                           Signer& signer) {
  if (!options_.acmeAccounts) {
    signer.ready = false;
    signer.reason = issuer_reason::kACMERegistrationFailed;
    signer.message = "this server has no ACME client configured";
    return;
  }
  auto binding = externalAccountBinding(issuer);
  if (!binding) {
    signer.ready = false;
    signer.reason = issuer_reason::kACMERegistrationFailed;
    signer.message = binding.message();
    return;
  }
  auto secrets = tsigSecrets(issuer);
  if (!secrets) {
    signer.ready = false;
    signer.reason = issuer_reason::kACMERegistrationFailed;
    signer.message = secrets.message();
    return;
  }
  auto account =
      options_.acmeAccounts->account(issuerKey, *issuer.spec.acme, *binding, std::move(*secrets));
  if (!account) {
    signer.ready = false;
    signer.reason = issuer_reason::kACMERegistrationFailed;
    signer.message = fmt::format("{}: {}", issuer.spec.acme->server, account.message());
    return;
  }
  signer.message =
      fmt::format("ACME account {} registered with {}", (*account)->url, issuer.spec.acme->server);
  issuer.status.acme = api::AcmeIssuerStatus{(*account)->url, (*account)->email};
}

ReconcileResult IssuerReconciler::run(const std::string& key) {
  auto log = logger("controller.reconcile");
  auto parsed = ObjectKey::parse(key);
  if (!parsed || parsed->kind != kKind) {
    log->error("issuer_key_invalid key={}", key);
    return ReconcileResult::done();
  }
  auto stored = store_.get(*parsed);
  if (!stored) {
    if (stored.code() != ErrorCode::kNotFound) return ReconcileResult::retry(stored.message());
    if (options_.acmeAccounts) options_.acmeAccounts->forget(parsed->ns + "/" + parsed->name);
    return ReconcileResult::done();
  }
  api::DecodeResult decoded = api::decodeObject(**stored);
  if (!decoded.ok() || !std::holds_alternative<api::Issuer>(*decoded.object)) {
    log->warn("stored_object_invalid key={} error=\"{}\"", key,
              decoded.diagnostics.empty() ? std::string() : decoded.diagnostics.front().toString());
    return ReconcileResult::done();
  }
  api::Object object = std::move(*decoded.object);
  auto& issuer = std::get<api::Issuer>(object);
  const auto now = options_.clock->wallNow();
  Signer signer = resolveSigner(store_, certificates_, parsed->ns, issuer.spec, now);
  if (signer.acme) {
    if (options_.mayWrite && !options_.mayWrite()) return ReconcileResult::done();
    registerAcmeAccount(parsed->ns + "/" + parsed->name, issuer, signer);
  } else {
    issuer.status.acme.reset();
  }

  api::Condition ready;
  ready.type = "Ready";
  ready.status = signer.ready ? api::ConditionStatus::kTrue : api::ConditionStatus::kFalse;
  ready.reason = signer.reason;
  ready.message = signer.message;
  ready.observedGeneration = issuer.metadata.generation;
  bool flipped = [&] {
    const api::Condition* before = api::findCondition(issuer.status.conditions, "Ready");
    return !before || before->status != ready.status || before->reason != ready.reason;
  }();
  api::setCondition(issuer.status.conditions, ready, std::chrono::floor<std::chrono::seconds>(now));
  auto written = writeStatusIfChanged(store_, object, *stored);
  if (!written) return ReconcileResult::retry(fmt::format("writing status: {}", written.message()));
  if (*written && flipped) {
    log->info("issuer_ready key={} generation={} ready={} reason={} message=\"{}\"", key,
              issuer.metadata.generation, signer.ready, signer.reason, signer.message);
  }
  // A registration that failed is tried again after 10 s, doubling to an hour: the ACME server
  // is not asked again and again by the work queue's milliseconds.
  if (signer.acme && !signer.ready) return ReconcileResult::requeueAfter(acmeBackoff_.failed(key));
  if (signer.acme) acmeBackoff_.succeeded(key);
  // A CA that is valid now expires later (and one not yet valid becomes valid): look again then,
  // on a timer rather than by polling.
  if (signer.changesAt && *signer.changesAt >= now) {
    return ReconcileResult::requeueAfter(
        std::chrono::ceil<std::chrono::seconds>(*signer.changesAt - now) + std::chrono::seconds(1));
  }
  return ReconcileResult::done();
}

}  // namespace siteplane::reconcile

// The Certificate reconciler's entry points: which keys a store change queues, and one reconcile
// (read, issue or import, write status, record Events). Issuing is certificate_issue.cc, importing
// certificate_import.cc, and what makes issued material stale certificate_staleness.cc.

#include "controller/reconcile/certificate_reconciler.h"

#include <fmt/format.h>

#include <exception>

#include "common/logging.h"
#include "controller/api/object_codec.h"
#include "controller/reconcile/certificate_status.h"
#include "controller/reconcile/status_writer.h"

namespace siteplane::reconcile {

namespace reason = certificate_reason;

CertificateReconciler::CertificateReconciler(store::Store& store,
                                             certs::CertificateStore& certificates,
                                             CertificateReconcilerOptions options)
    : store_(store), certificates_(certificates), options_(std::move(options)) {}

void CertificateReconciler::keysFor(const store::WatchEvent& event,
                                    std::vector<QueuedKey>& keys) noexcept {
  try {
    dependencies_.observe(event);
    const std::string& ns = event.key.ns;
    auto certificateKey = [&](const std::string& name) {
      return ObjectKey{kKind, ns, name}.toString();
    };
    if (event.key.kind == kKind) {
      if (generations_.changed(event)) keys.push_back({event.key.toString(), {}});
      for (const auto& issuer : dependencies_.issuersUsingCA(ns, event.key.name)) {
        for (const auto& name : dependencies_.certificatesOfIssuer(ns, issuer)) {
          if (name != event.key.name) keys.push_back({certificateKey(name), {}});
        }
      }
    } else if (event.key.kind == IssuerReconciler::kKind && generations_.changed(event)) {
      // Only a new, deleted or re-specified Issuer matters here: Certificates resolve what their
      // Issuer can sign with themselves (resolveSigner) rather than trusting its status, so the
      // Issuer's own status writes would only cost every Certificate of it a reconcile.
      for (const auto& name : dependencies_.certificatesOfIssuer(ns, event.key.name))
        keys.push_back({certificateKey(name), {}});
    }
  } catch (const std::exception& error) {
    logger("controller.reconcile")
        ->error("certificate_keys_failed key={} error=\"{}\"", event.key.toString(), error.what());
  }
}

ReconcileResult CertificateReconciler::reconcile(const std::string& key) noexcept {
  try {
    return run(key);
  } catch (const std::exception& error) {
    return ReconcileResult::retry(fmt::format("reconciling {}: {}", key, error.what()));
  }
}

ReconcileResult CertificateReconciler::run(const std::string& key) {
  auto log = logger("controller.reconcile");
  auto parsed = ObjectKey::parse(key);
  if (!parsed || parsed->kind != kKind) {
    log->error("certificate_key_invalid key={}", key);
    return ReconcileResult::done();
  }
  const std::string storeKey = parsed->ns + "/" + parsed->name;
  auto stored = store_.get(*parsed);
  if (!stored) {
    if (stored.code() != ErrorCode::kNotFound) return ReconcileResult::retry(stored.message());
    // Deleted: its key pair goes with it, so no private key outlives the object that owned it.
    forgetImport(storeKey);
    abandonAcmeOrder(options_.acme, storeKey);
    Status removed = certificates_.remove(storeKey);
    if (!removed.isOk()) return ReconcileResult::retry(removed.message());
    log->debug("certificate_removed key={}", key);
    return ReconcileResult::done();
  }
  if (options_.mayWrite && !options_.mayWrite()) {
    log->debug("certificate_not_leader key={}", key);
    return ReconcileResult::done();
  }
  if (auto steady = steadyImport(storeKey, **stored, options_.clock->wallNow())) return *steady;
  api::DecodeResult decoded = api::decodeObject(**stored);
  if (!decoded.ok() || !std::holds_alternative<api::Certificate>(*decoded.object)) {
    // Sources validate before storing; this is an object stored by hand or an older version.
    log->warn("stored_object_invalid key={} error=\"{}\"", key,
              decoded.diagnostics.empty() ? std::string() : decoded.diagnostics.front().toString());
    return ReconcileResult::done();
  }
  api::Object object = std::move(*decoded.object);
  auto& certificate = std::get<api::Certificate>(object);
  const auto now = options_.clock->wallNow();
  const api::CertificateStatus before = certificate.status;
  ReconcileResult next = certificate.spec.source ? import(certificate, storeKey, now)
                                                 : issue(certificate, storeKey, now);
  auto written = writeStatusIfChanged(store_, object, *stored);
  if (!written) return ReconcileResult::retry(fmt::format("writing status: {}", written.message()));
  // Steady only when the files were taken (Issuing False/Imported, whatever their validity); a
  // refused or failed import reads its files again on every look.
  const api::Condition* issuing = api::findCondition(certificate.status.conditions, "Issuing");
  const bool imported = issuing && issuing->status == api::ConditionStatus::kFalse &&
                        issuing->reason == reason::kImported;
  if (!*written && certificate.spec.source && imported &&
      next.action == ReconcileResult::Action::kRequeueAfter)
    markSteady(storeKey, **stored, now);
  // The written status change is the trigger, so a resync that changes nothing records nothing
  // and a status write that failed (retried) records once, when it lands.
  if (*written) recordTransitions(certificate, before);
  return next;
}

void CertificateReconciler::recordTransitions(const api::Certificate& certificate,
                                              const api::CertificateStatus& before) const {
  if (!options_.events) return;
  const api::CertificateStatus& after = certificate.status;
  const bool imported = certificate.spec.source.has_value();
  const events::InvolvedObject object{"siteplane.io/v1alpha1", kKind,
                                      certificate.metadata.namespaceName, certificate.metadata.name,
                                      certificate.metadata.uid};
  const std::string notAfter = after.notAfter ? formatTime(*after.notAfter) : std::string("-");
  const std::string issuer = certificate.spec.issuerRef ? certificate.spec.issuerRef->name : "";

  if (!after.thumbprint.empty() && after.thumbprint != before.thumbprint) {
    if (imported) {
      options_.events->record(
          object, events::EventType::kNormal, certificate_event::kImported,
          fmt::format("certificate {} imported, valid until {}", after.thumbprint, notAfter));
    } else if (before.thumbprint.empty()) {
      options_.events->record(object, events::EventType::kNormal, certificate_event::kIssued,
                              fmt::format("certificate {} issued by Issuer {}, valid until {}",
                                          after.thumbprint, issuer, notAfter));
    } else {
      options_.events->record(
          object, events::EventType::kNormal, certificate_event::kRenewed,
          fmt::format("certificate {} issued by Issuer {} replaces {}, valid until {}",
                      after.thumbprint, issuer, before.thumbprint, notAfter));
    }
  }

  // A failure is an Issuing condition that says Failed, or (an import that keeps its last good
  // certificate) Issuing=True with why the files are not taken. Recorded when it first shows and
  // whenever its message changes; a repeat of an earlier failure aggregates into its Event.
  const api::Condition* issuing = api::findCondition(after.conditions, "Issuing");
  if (!issuing) return;
  const bool failed = issuing->reason == reason::kFailed ||
                      (imported && issuing->status == api::ConditionStatus::kTrue);
  if (!failed) return;
  const api::Condition* was = api::findCondition(before.conditions, "Issuing");
  if (was && was->status == issuing->status && was->reason == issuing->reason &&
      was->message == issuing->message)
    return;
  const api::Condition* ready = api::findCondition(after.conditions, "Ready");
  const std::string why =
      issuing->reason == reason::kFailed && ready ? ready->reason : issuing->reason;
  options_.events->record(
      object, events::EventType::kWarning,
      imported ? certificate_event::kImportFailed : certificate_event::kIssueFailed,
      fmt::format("{}: {}", why, issuing->message));
}

Status CertificateReconciler::storeMaterial(const std::string& storeKey,
                                            const certs::CertificateBundle& bundle) {
  if (options_.publishMaterial) {
    if (Status published = options_.publishMaterial(storeKey, bundle); !published) return published;
  }
  return certificates_.put(storeKey, bundle);
}

}  // namespace siteplane::reconcile

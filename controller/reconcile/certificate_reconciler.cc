#include "controller/reconcile/certificate_reconciler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "common/logging.h"
#include "controller/api/object_codec.h"
#include "controller/certs/certificate_import.h"
#include "controller/reconcile/certificate_status.h"
#include "controller/reconcile/status_writer.h"

namespace siteplane::reconcile {
namespace {

namespace fs = std::filesystem;
namespace reason = certificate_reason;
using std::chrono::system_clock;

// The Ready reason for files that import refused: the failures a user acts on differently have
// their own code in certs::.
const char* importFailureReason(ErrorCode code) {
  switch (code) {
    case ErrorCode::kPathNotAllowed:
      // The policy checks again at read time (a symlink swapped in after the check).
      return reason::kPathNotAllowed;
    case ErrorCode::kKeyMismatch:
      return reason::kKeyMismatch;
    case ErrorCode::kInvalidChain:
      return reason::kInvalidChain;
    default:
      return reason::kInvalidSource;
  }
}

std::vector<std::string> thumbprints(const std::vector<certs::Certificate>& chain) {
  std::vector<std::string> out;
  out.reserve(chain.size());
  for (const auto& certificate : chain) out.push_back(certificate.thumbprint());
  return out;
}

}  // namespace

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
      return store::ObjectKey{kKind, ns, name}.toString();
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

void CertificateReconciler::forgetImport(const std::string& storeKey) {
  bool watched = false;
  {
    std::lock_guard lock(importsMutex_);
    imports_.erase(storeKey);
    watched = watched_.erase(storeKey) > 0;
  }
  if (watched && options_.watchSourceFiles)
    options_.watchSourceFiles(std::string(kKind) + "/" + storeKey, {});
}

fs::path CertificateReconciler::resolve(const std::string& path) const {
  fs::path file(path);
  if (file.is_relative() && !options_.manifestsDir.empty()) return options_.manifestsDir / file;
  return file;
}

ReconcileResult CertificateReconciler::run(const std::string& key) {
  auto log = logger("controller.reconcile");
  auto parsed = store::ObjectKey::parse(key);
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
    Status removed = certificates_.remove(storeKey);
    if (!removed.isOk()) return ReconcileResult::retry(removed.message());
    log->debug("certificate_removed key={}", key);
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

std::optional<ReconcileResult> CertificateReconciler::steadyImport(const std::string& storeKey,
                                                                   const nlohmann::json& stored,
                                                                   system_clock::time_point now) {
  std::vector<SourceFile> files;
  system_clock::time_point until;
  {
    std::lock_guard lock(importsMutex_);
    auto found = imports_.find(storeKey);
    if (found == imports_.end() || found->second.steadyResourceVersion.empty()) return std::nullopt;
    const std::string* version =
        stored["metadata"]["resourceVersion"].get_ptr<const std::string*>();
    if (!version || *version != found->second.steadyResourceVersion) return std::nullopt;
    files = found->second.files;
    until = found->second.steadyUntil;
  }
  if (now >= until) return std::nullopt;
  if (options_.watchSourceFiles) {
    // As every look does (see import): it also re-arms the watch of a replaced directory.
    std::vector<fs::path> paths;
    for (const auto& file : files) paths.emplace_back(file.path);
    options_.watchSourceFiles(std::string(kKind) + "/" + storeKey, std::move(paths));
  }
  for (const auto& file : files) {
    auto current = FileStamp::of(file.path);
    if (!current || !(*current == file.stamp)) return std::nullopt;
  }
  auto next =
      std::min(std::chrono::duration_cast<std::chrono::seconds>(options_.sourceCheckInterval),
               std::chrono::ceil<std::chrono::seconds>(until - now) + std::chrono::seconds(1));
  return ReconcileResult::requeueAfter(std::max(next, std::chrono::seconds(1)));
}

void CertificateReconciler::markSteady(const std::string& storeKey, const nlohmann::json& stored,
                                       system_clock::time_point now) {
  const std::string* version = stored["metadata"]["resourceVersion"].get_ptr<const std::string*>();
  if (!version) return;
  std::lock_guard lock(importsMutex_);
  auto found = imports_.find(storeKey);
  if (found == imports_.end()) return;  // the import failed: every look reads the files again
  // Ready flips at notBefore and after notAfter; an expired certificate stays expired.
  const certs::CertificateInfo& info = found->second.leaf.info();
  system_clock::time_point until = system_clock::time_point::max();
  if (now < info.notBefore) {
    until = info.notBefore;
  } else if (now <= info.notAfter) {
    until = info.notAfter + std::chrono::seconds(1);
  }
  found->second.steadyResourceVersion = *version;
  found->second.steadyUntil = until;
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

ReconcileResult CertificateReconciler::import(api::Certificate& certificate,
                                              const std::string& storeKey,
                                              system_clock::time_point now) {
  auto log = logger("controller.reconcile");
  const api::CertificateSource& source = *certificate.spec.source;
  const int64_t generation = certificate.metadata.generation;
  api::CertificateStatus& status = certificate.status;
  ConditionSetter setCondition(certificate, now);
  // What keeps serving while the files cannot be used: the certificate status describes, Ready,
  // still in the store and valid now (the last good import, or what was issued before the
  // Certificate switched to spec.source).
  auto lastGood = [&]() -> std::optional<certs::Certificate> {
    const api::Condition* ready = api::findCondition(status.conditions, "Ready");
    if (status.thumbprint.empty() || !ready || ready->status != api::ConditionStatus::kTrue)
      return std::nullopt;
    auto stored = certificates_.get(storeKey);
    if (!stored || !stored->has_value()) return std::nullopt;
    const certs::Certificate& kept = (**stored).leaf();
    if (kept.thumbprint() != status.thumbprint || kept.validityAt(now) != certs::Validity::kValid)
      return std::nullopt;
    return kept;
  };
  // Files that cannot be used never take away a good certificate (as a broken manifest keeps its
  // objects' last good version): with one, it stays Ready and Issuing says what is wrong.
  auto refuse = [&](const char* why, const std::string& message) {
    if (auto kept = lastGood()) {
      describe(status, *kept, std::nullopt);
      setCondition("Ready", true, reason::kImported,
                   fmt::format("certificate {} (the last good import) is served, valid until {}; "
                               "the files are not taken: {}",
                               kept->thumbprint(), formatTime(kept->info().notAfter), message));
      setCondition("Issuing", true, why, message);
      log->warn("certificate_import_refused key={}/{} generation={} reason={} kept={} error=\"{}\"",
                kKind, storeKey, generation, why, kept->thumbprint(), message);
      auto untilExpiry = std::chrono::ceil<std::chrono::seconds>(kept->info().notAfter - now) +
                         std::chrono::seconds(1);
      return ReconcileResult::requeueAfter(
          std::min<Clock::Duration>(options_.sourceCheckInterval, untilExpiry));
    }
    setCondition("Ready", false, why, message);
    setCondition("Issuing", false, reason::kFailed, message);
    log->warn("certificate_import_failed key={}/{} generation={} reason={} error=\"{}\"", kKind,
              storeKey, generation, why, message);
    // A fixed file is picked up by its watch or the next look.
    return ReconcileResult::requeueAfter(options_.sourceCheckInterval);
  };

  const bool pkcs12 = !source.pkcs12File.empty();
  std::vector<std::pair<std::string, fs::path>> files;  // field -> resolved path
  if (pkcs12) {
    files.emplace_back("spec.source.pkcs12File", resolve(source.pkcs12File));
    if (!source.pkcs12PasswordFile.empty())
      files.emplace_back("spec.source.pkcs12PasswordFile", resolve(source.pkcs12PasswordFile));
  } else {
    files.emplace_back("spec.source.certificateFile", resolve(source.certificateFile));
    files.emplace_back("spec.source.privateKeyFile", resolve(source.privateKeyFile));
  }
  std::string fileList;
  for (const auto& [field, path] : files) {
    if (pkcs12 && field == "spec.source.pkcs12PasswordFile") continue;
    fileList += (fileList.empty() ? "" : " + ") + path.string();
  }

  // The operator's directories first, before any file is watched, stat()ed or read. A refused
  // path keeps nothing: material stored from it (before the policy, or by a spec that names
  // a forbidden file now) is removed, so that it cannot be served under any condition.
  const certs::ImportOrigin origin = certs::importOriginOf(certificate.metadata.annotations);
  if (options_.importPolicy) {
    for (const auto& [field, path] : files) {
      Status allowed = options_.importPolicy->check(path, origin);
      if (allowed) continue;
      forgetImport(storeKey);
      if (Status removed = certificates_.remove(storeKey); !removed)
        return ReconcileResult::retry(fmt::format("certificate store: {}", removed.message()));
      // Nothing is served, so status describes no certificate (revision is a counter: kept).
      api::CertificateStatus cleared;
      cleared.conditions = std::move(status.conditions);
      cleared.revision = status.revision;
      status = std::move(cleared);
      std::string message = fmt::format("{}: {}", field, allowed.message());
      setCondition("Ready", false, reason::kPathNotAllowed, message);
      setCondition("Issuing", false, reason::kFailed, message);
      log->warn("certificate_import_refused key={}/{} generation={} reason={} error=\"{}\"", kKind,
                storeKey, generation, reason::kPathNotAllowed, message);
      return ReconcileResult::requeueAfter(options_.sourceCheckInterval);
    }
  }
  certs::FileReader readFile = certs::readSmallFile;
  if (options_.importPolicy) {
    readFile = [policy = options_.importPolicy, origin](const fs::path& path) {
      return policy->read(path, origin);
    };
  }

  if (options_.watchSourceFiles) {
    // Registered on every look, which also re-arms the watch of a directory that was replaced.
    {
      std::lock_guard lock(importsMutex_);
      watched_.insert(storeKey);
    }
    std::vector<fs::path> paths;
    for (const auto& [field, path] : files) paths.push_back(path);
    options_.watchSourceFiles(std::string(kKind) + "/" + storeKey, std::move(paths));
  }

  // stat() before reading: a file replaced between the two is seen as changed by the next look.
  std::vector<SourceFile> stamps;
  for (const auto& [field, path] : files) {
    auto stamp = FileStamp::of(path);
    if (!stamp)
      return refuse(reason::kInvalidSource, fmt::format("{}: cannot read {}: {}", field,
                                                        path.string(), std::strerror(errno)));
    stamps.push_back({path.string(), *stamp});
  }

  std::optional<certs::Certificate> leaf;
  {
    std::lock_guard lock(importsMutex_);
    auto cached = imports_.find(storeKey);
    if (cached != imports_.end() && cached->second.files == stamps &&
        cached->second.leaf.thumbprint() == status.thumbprint)
      leaf = cached->second.leaf;
  }
  if (!leaf) {
    auto bundle =
        pkcs12 ? certs::importPkcs12File(
                     files[0].second,
                     files.size() > 1 ? std::optional<fs::path>(files[1].second) : std::nullopt,
                     readFile)
               : certs::importPemFiles(files[0].second, files[1].second, readFile);
    if (!bundle) {
      {
        std::lock_guard lock(importsMutex_);
        imports_.erase(storeKey);
      }
      return refuse(importFailureReason(bundle.code()),
                    fmt::format("spec.source: {}", bundle.message()));
    }
    // An expired or not yet valid certificate in the files does not replace a valid one.
    const certs::Validity validity = bundle->leaf().validityAt(now);
    if (validity != certs::Validity::kValid && lastGood()) {
      const certs::CertificateInfo& offered = bundle->leaf().info();
      return refuse(
          validity == certs::Validity::kExpired ? reason::kExpired : reason::kNotYetValid,
          fmt::format("certificate {} in {} is {} (valid from {} to {})", offered.thumbprint,
                      fileList, validity == certs::Validity::kExpired ? "expired" : "not yet valid",
                      formatTime(offered.notBefore), formatTime(offered.notAfter)));
    }
    auto chain = thumbprints(bundle->chain);
    auto existing = certificates_.get(storeKey);
    const bool same = existing && existing->has_value() && thumbprints((*existing)->chain) == chain;
    if (!same) {
      Status put = certificates_.put(storeKey, *bundle);
      if (!put.isOk())
        return ReconcileResult::retry(fmt::format("certificate store: {}", put.message()));
      log->info(
          "certificate_imported key={}/{} generation={} thumbprint={} chain_length={} from={}",
          kKind, storeKey, generation, bundle->leaf().thumbprint(), chain.size(), fileList);
    }
    leaf = bundle->leaf();
    std::lock_guard lock(importsMutex_);
    imports_.insert_or_assign(storeKey, ImportedSource{stamps, std::move(chain), *leaf, "", {}});
  }

  describe(status, *leaf, std::nullopt);
  const certs::CertificateInfo& info = leaf->info();
  auto next = std::chrono::duration_cast<std::chrono::seconds>(options_.sourceCheckInterval);
  switch (leaf->validityAt(now)) {
    case certs::Validity::kValid:
      setCondition("Ready", true, reason::kImported,
                   fmt::format("certificate {} imported from {}, valid until {}", info.thumbprint,
                               fileList, formatTime(info.notAfter)));
      next = std::min(next, std::chrono::ceil<std::chrono::seconds>(info.notAfter - now) +
                                std::chrono::seconds(1));
      break;
    case certs::Validity::kExpired:
      setCondition("Ready", false, reason::kExpired,
                   fmt::format("certificate {} imported from {} expired at {}", info.thumbprint,
                               fileList, formatTime(info.notAfter)));
      break;
    case certs::Validity::kNotYetValid:
      setCondition("Ready", false, reason::kNotYetValid,
                   fmt::format("certificate {} imported from {} is not valid before {}",
                               info.thumbprint, fileList, formatTime(info.notBefore)));
      next = std::min(next, std::chrono::ceil<std::chrono::seconds>(info.notBefore - now));
      break;
  }
  setCondition("Issuing", false, reason::kImported,
               "imported from spec.source; siteplane does not renew imported certificates");
  return ReconcileResult::requeueAfter(std::max(next, std::chrono::seconds(1)));
}

}  // namespace siteplane::reconcile

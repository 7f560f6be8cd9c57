// CertificateReconciler::import: a Certificate with spec.source, imported from PEM or PKCS#12
// files, and what an import remembers of them between looks (steadyImport, markSteady).

#include "controller/certs/certificate_import.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/logging.h"
#include "controller/reconcile/certificate_reconciler.h"
#include "controller/reconcile/certificate_status.h"

namespace siteplane::reconcile {
namespace {

namespace fs = std::filesystem;
namespace reason = certificate_reason;
using std::chrono::system_clock;

constexpr const char* kPasswordField = "spec.source.pkcs12PasswordFile";

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

// Relative spec.source paths resolve against the manifests directory (see the options).
fs::path resolve(const fs::path& manifestsDir, const std::string& path) {
  fs::path file(path);
  if (file.is_relative() && !manifestsDir.empty()) return manifestsDir / file;
  return file;
}

// The files spec.source names, field -> resolved path: the certificate (or PKCS#12) file first.
std::vector<std::pair<std::string, fs::path>> sourceFiles(const api::CertificateSource& source,
                                                          const fs::path& manifestsDir) {
  std::vector<std::pair<std::string, fs::path>> files;
  if (!source.pkcs12File.empty()) {
    files.emplace_back("spec.source.pkcs12File", resolve(manifestsDir, source.pkcs12File));
    if (!source.pkcs12PasswordFile.empty())
      files.emplace_back(kPasswordField, resolve(manifestsDir, source.pkcs12PasswordFile));
  } else {
    files.emplace_back("spec.source.certificateFile",
                       resolve(manifestsDir, source.certificateFile));
    files.emplace_back("spec.source.privateKeyFile", resolve(manifestsDir, source.privateKeyFile));
  }
  return files;
}

// The certificate files (not a password file), for messages: "a.crt + a.key".
std::string fileListOf(const std::vector<std::pair<std::string, fs::path>>& files) {
  std::string list;
  for (const auto& [field, path] : files) {
    if (field == kPasswordField) continue;
    list += (list.empty() ? "" : " + ") + path.string();
  }
  return list;
}

std::vector<fs::path> pathsOf(const std::vector<std::pair<std::string, fs::path>>& files) {
  std::vector<fs::path> paths;
  for (const auto& [field, path] : files) paths.push_back(path);
  return paths;
}

// What keeps serving while the files cannot be used: the certificate `status` describes, Ready,
// still in the store and valid now (the last good import, or what was issued before the
// Certificate switched to spec.source).
std::optional<certs::Certificate> lastGood(const certs::CertificateStore& certificates,
                                           const api::CertificateStatus& status,
                                           const std::string& storeKey,
                                           system_clock::time_point now) {
  const api::Condition* ready = api::findCondition(status.conditions, "Ready");
  if (status.thumbprint.empty() || !ready || ready->status != api::ConditionStatus::kTrue)
    return std::nullopt;
  auto stored = certificates.get(storeKey);
  if (!stored || !stored->has_value()) return std::nullopt;
  const certs::Certificate& kept = (**stored).leaf();
  if (kept.thumbprint() != status.thumbprint || kept.validityAt(now) != certs::Validity::kValid)
    return std::nullopt;
  return kept;
}

}  // namespace

// One look at an imported Certificate's files: what it knows of them and the status it writes.
struct CertificateReconciler::ImportAttempt {
  api::Certificate& certificate;
  const std::string& storeKey;
  system_clock::time_point now;
  ConditionSetter setCondition;
  std::vector<std::pair<std::string, fs::path>> files;  // sourceFiles()
  std::string fileList;                                 // fileListOf(files)
  certs::ImportOrigin origin;

  bool pkcs12() const { return !certificate.spec.source->pkcs12File.empty(); }
  int64_t generation() const { return certificate.metadata.generation; }
};

ReconcileResult CertificateReconciler::import(api::Certificate& certificate,
                                              const std::string& storeKey,
                                              system_clock::time_point now) {
  if (!certificate.spec.source->secretName.empty()) return importSecret(certificate, storeKey, now);
  auto files = sourceFiles(*certificate.spec.source, options_.manifestsDir);
  std::string fileList = fileListOf(files);
  ImportAttempt attempt{certificate,
                        storeKey,
                        now,
                        ConditionSetter(certificate, now),
                        std::move(files),
                        std::move(fileList),
                        certs::importOriginOf(certificate.metadata.annotations)};
  // The operator's directories first, before any file is watched, stat()ed or read.
  if (auto refused = refuseForbiddenPaths(attempt)) return *refused;
  // Registered on every look, which also re-arms the watch of a directory that was replaced.
  watchFiles(storeKey, pathsOf(attempt.files));

  // stat() before reading: a file replaced between the two is seen as changed by the next look.
  std::vector<SourceFile> stamps;
  for (const auto& [field, path] : attempt.files) {
    auto stamp = FileStamp::of(path);
    if (!stamp)
      return refuse(
          attempt, reason::kInvalidSource,
          fmt::format("{}: cannot read {}: {}", field, path.string(), std::strerror(errno)));
    stamps.push_back({path.string(), *stamp});
  }
  if (auto leaf = cachedLeaf(storeKey, stamps, certificate.status.thumbprint))
    return markImported(attempt, *leaf);
  return takeFiles(attempt, std::move(stamps));
}

std::optional<ReconcileResult> CertificateReconciler::refuseForbiddenPaths(ImportAttempt& attempt) {
  if (!options_.importPolicy) return std::nullopt;
  for (const auto& [field, path] : attempt.files) {
    Status allowed = options_.importPolicy->check(path, attempt.origin);
    if (allowed) continue;
    // A refused path keeps nothing: material stored from it (before the policy, or by a spec that
    // names a forbidden file now) is removed, so that it cannot be served under any condition.
    forgetImport(attempt.storeKey);
    if (Status removed = certificates_.remove(attempt.storeKey); !removed)
      return ReconcileResult::retry(fmt::format("certificate store: {}", removed.message()));
    // Nothing is served, so status describes no certificate (revision is a counter: kept).
    api::CertificateStatus& status = attempt.certificate.status;
    api::CertificateStatus cleared;
    cleared.conditions = std::move(status.conditions);
    cleared.revision = status.revision;
    status = std::move(cleared);
    std::string message = fmt::format("{}: {}", field, allowed.message());
    attempt.setCondition("Ready", false, reason::kPathNotAllowed, message);
    attempt.setCondition("Issuing", false, reason::kFailed, message);
    logger("controller.reconcile")
        ->warn("certificate_import_refused key={}/{} generation={} reason={} error=\"{}\"", kKind,
               attempt.storeKey, attempt.generation(), reason::kPathNotAllowed, message);
    return ReconcileResult::requeueAfter(options_.sourceCheckInterval);
  }
  return std::nullopt;
}

std::optional<certs::Certificate> CertificateReconciler::cachedLeaf(
    const std::string& storeKey, const std::vector<SourceFile>& stamps,
    const std::string& thumbprint) {
  std::lock_guard lock(importsMutex_);
  auto cached = imports_.find(storeKey);
  if (cached == imports_.end() || cached->second.files != stamps ||
      cached->second.leaf.thumbprint() != thumbprint)
    return std::nullopt;
  return cached->second.leaf;
}

ReconcileResult CertificateReconciler::takeFiles(ImportAttempt& attempt,
                                                 std::vector<SourceFile> stamps) {
  certs::FileReader readFile = certs::readSmallFile;
  if (options_.importPolicy) {
    readFile = [policy = options_.importPolicy, origin = attempt.origin](const fs::path& path) {
      return policy->read(path, origin);
    };
  }
  const auto& files = attempt.files;
  return takeBundle(
      attempt,
      attempt.pkcs12()
          ? certs::importPkcs12File(
                files[0].second,
                files.size() > 1 ? std::optional<fs::path>(files[1].second) : std::nullopt,
                readFile)
          : certs::importPemFiles(files[0].second, files[1].second, readFile),
      std::move(stamps));
}

ReconcileResult CertificateReconciler::takeBundle(ImportAttempt& attempt,
                                                  Result<certs::CertificateBundle> bundle,
                                                  std::optional<std::vector<SourceFile>> stamps) {
  const std::string& storeKey = attempt.storeKey;
  if (!bundle) {
    {
      std::lock_guard lock(importsMutex_);
      imports_.erase(storeKey);
    }
    return refuse(attempt, importFailureReason(bundle.code()),
                  fmt::format("spec.source: {}", bundle.message()));
  }
  // An expired or not yet valid certificate in the files does not replace a valid one.
  const certs::Validity validity = bundle->leaf().validityAt(attempt.now);
  if (validity != certs::Validity::kValid &&
      lastGood(certificates_, attempt.certificate.status, storeKey, attempt.now)) {
    const certs::CertificateInfo& offered = bundle->leaf().info();
    const bool isExpired = validity == certs::Validity::kExpired;
    return refuse(
        attempt, isExpired ? reason::kExpired : reason::kNotYetValid,
        fmt::format("certificate {} in {} is {} (valid from {} to {})", offered.thumbprint,
                    attempt.fileList, isExpired ? "expired" : "not yet valid",
                    formatTime(offered.notBefore), formatTime(offered.notAfter)));
  }
  auto chain = thumbprints(bundle->chain);
  auto existing = certificates_.get(storeKey);
  const bool same = existing && existing->has_value() && thumbprints((*existing)->chain) == chain;
  if (!same) {
    Status put = storeMaterial(storeKey, *bundle);
    if (!put.isOk())
      return ReconcileResult::retry(fmt::format("certificate store: {}", put.message()));
    logger("controller.reconcile")
        ->info("certificate_imported key={}/{} generation={} thumbprint={} chain_length={} from={}",
               kKind, storeKey, attempt.generation(), bundle->leaf().thumbprint(), chain.size(),
               attempt.fileList);
  }
  if (stamps) {
    std::lock_guard lock(importsMutex_);
    imports_.insert_or_assign(
        storeKey, ImportedSource{std::move(*stamps), std::move(chain), bundle->leaf(), "", {}});
  }
  return markImported(attempt, bundle->leaf());
}

ReconcileResult CertificateReconciler::importSecret(api::Certificate& certificate,
                                                    const std::string& storeKey,
                                                    system_clock::time_point now) {
  // No files (any more): nothing to watch or remember; a Secret is read again on every look.
  forgetImport(storeKey);
  const std::string& secret = certificate.spec.source->secretName;
  ImportAttempt attempt{certificate,
                        storeKey,
                        now,
                        ConditionSetter(certificate, now),
                        {},
                        "Secret " + certificate.metadata.namespaceName + "/" + secret,
                        certs::importOriginOf(certificate.metadata.annotations)};
  if (!options_.readSecret) {
    return refuse(attempt, reason::kInvalidSource,
                  "spec.source.secretName: Secrets are read only by serve --source kubernetes; "
                  "the embedded server imports files (certificateFile, pkcs12File)");
  }
  const std::string& own = certificate.spec.secretName;
  if (secret == (own.empty() ? certificate.metadata.name + "-tls" : own)) {
    return refuse(attempt, reason::kInvalidSource,
                  "spec.source.secretName names the Secret siteplane writes for this "
                  "Certificate (spec.secretName); name the Secret to import from");
  }
  auto bundle = options_.readSecret(certificate.metadata.namespaceName, secret);
  if (bundle) {
    logger("controller.reconcile")
        ->debug("certificate_secret_read key={}/{} secret={}", kKind, storeKey, secret);
  }
  return takeBundle(attempt, std::move(bundle), std::nullopt);
}

ReconcileResult CertificateReconciler::refuse(ImportAttempt& attempt, const char* why,
                                              const std::string& message) const {
  auto log = logger("controller.reconcile");
  // Files that cannot be used never take away a good certificate (as a broken manifest keeps its
  // objects' last good version): with one, it stays Ready and Issuing says what is wrong.
  if (auto kept =
          lastGood(certificates_, attempt.certificate.status, attempt.storeKey, attempt.now)) {
    describe(attempt.certificate.status, *kept, std::nullopt);
    attempt.setCondition(
        "Ready", true, reason::kImported,
        fmt::format("certificate {} (the last good import) is served, valid "
                    "until {}; the files are not taken: {}",
                    kept->thumbprint(), formatTime(kept->info().notAfter), message));
    attempt.setCondition("Issuing", true, why, message);
    log->warn("certificate_import_refused key={}/{} generation={} reason={} kept={} error=\"{}\"",
              kKind, attempt.storeKey, attempt.generation(), why, kept->thumbprint(), message);
    auto untilExpiry =
        std::chrono::ceil<std::chrono::seconds>(kept->info().notAfter - attempt.now) +
        std::chrono::seconds(1);
    return ReconcileResult::requeueAfter(
        std::min<Clock::Duration>(options_.sourceCheckInterval, untilExpiry));
  }
  attempt.setCondition("Ready", false, why, message);
  attempt.setCondition("Issuing", false, reason::kFailed, message);
  log->warn("certificate_import_failed key={}/{} generation={} reason={} error=\"{}\"", kKind,
            attempt.storeKey, attempt.generation(), why, message);
  // A fixed file is picked up by its watch or the next look.
  return ReconcileResult::requeueAfter(options_.sourceCheckInterval);
}

ReconcileResult CertificateReconciler::markImported(ImportAttempt& attempt,
                                                    const certs::Certificate& leaf) const {
  describe(attempt.certificate.status, leaf, std::nullopt);
  const certs::CertificateInfo& info = leaf.info();
  const system_clock::time_point now = attempt.now;
  auto next = std::chrono::duration_cast<std::chrono::seconds>(options_.sourceCheckInterval);
  switch (leaf.validityAt(now)) {
    case certs::Validity::kValid:
      attempt.setCondition(
          "Ready", true, reason::kImported,
          fmt::format("certificate {} imported from {}, valid until {}", info.thumbprint,
                      attempt.fileList, formatTime(info.notAfter)));
      next = std::min(next, std::chrono::ceil<std::chrono::seconds>(info.notAfter - now) +
                                std::chrono::seconds(1));
      break;
    case certs::Validity::kExpired:
      attempt.setCondition(
          "Ready", false, reason::kExpired,
          fmt::format("certificate {} imported from {} expired at {}", info.thumbprint,
                      attempt.fileList, formatTime(info.notAfter)));
      break;
    case certs::Validity::kNotYetValid:
      attempt.setCondition(
          "Ready", false, reason::kNotYetValid,
          fmt::format("certificate {} imported from {} is not valid before {}", info.thumbprint,
                      attempt.fileList, formatTime(info.notBefore)));
      next = std::min(next, std::chrono::ceil<std::chrono::seconds>(info.notBefore - now));
      break;
  }
  attempt.setCondition("Issuing", false, reason::kImported,
                       "imported from spec.source; siteplane does not renew imported certificates");
  return ReconcileResult::requeueAfter(std::max(next, std::chrono::seconds(1)));
}

void CertificateReconciler::watchFiles(const std::string& storeKey, std::vector<fs::path> paths) {
  if (!options_.watchSourceFiles) return;
  {
    std::lock_guard lock(importsMutex_);
    watched_.insert(storeKey);
  }
  options_.watchSourceFiles(std::string(kKind) + "/" + storeKey, std::move(paths));
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
  // As every look does (see import): it also re-arms the watch of a replaced directory.
  std::vector<fs::path> paths;
  for (const auto& file : files) paths.emplace_back(file.path);
  watchFiles(storeKey, std::move(paths));
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

}  // namespace siteplane::reconcile

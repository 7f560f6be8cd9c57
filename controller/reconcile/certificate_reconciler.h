#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/file_stamp.h"
#include "controller/api/certificate.h"
#include "controller/certs/certificate.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/certs/certificate_store.h"
#include "controller/certs/import_path_policy.h"
#include "controller/events/event_recorder.h"
#include "controller/reconcile/certificate_acme.h"
#include "controller/reconcile/certificate_dependencies.h"
#include "controller/reconcile/generation_filter.h"
#include "controller/reconcile/issuer_reconciler.h"
#include "controller/reconcile/reconciler.h"
#include "controller/store/store.h"

namespace siteplane::reconcile {

// Certificate Event reasons (what happened; the condition reasons say what is).
namespace certificate_event {
inline constexpr const char* kIssued = "Issued";
inline constexpr const char* kRenewed = "Renewed";
inline constexpr const char* kImported = "Imported";
inline constexpr const char* kIssueFailed = "IssueFailed";
inline constexpr const char* kImportFailed = "ImportFailed";
}  // namespace certificate_event

// Certificate condition reasons.
namespace certificate_reason {
// Ready
inline constexpr const char* kIssued = "Issued";
inline constexpr const char* kImported = "Imported";
inline constexpr const char* kExpired = "Expired";
inline constexpr const char* kNotYetValid = "NotYetValid";
inline constexpr const char* kIssuerNotFound = "IssuerNotFound";
inline constexpr const char* kIssuerNotReady = "IssuerNotReady";
inline constexpr const char* kInvalidSource = "InvalidSource";
inline constexpr const char* kKeyMismatch = "KeyMismatch";
inline constexpr const char* kInvalidChain = "InvalidChain";
// A spec.source file outside the directories the operator allows (certs::ImportPathPolicy).
inline constexpr const char* kPathNotAllowed = "PathNotAllowed";
inline constexpr const char* kIssuanceFailed = "IssuanceFailed";
// Ready=False while the first ACME order for the Certificate runs (Issuing says how far).
inline constexpr const char* kOrderPending = "OrderPending";
// Issuing: False once the material matches the spec, True (with why) while a re-issue waits.
inline constexpr const char* kUpToDate = "UpToDate";
inline constexpr const char* kDoesNotExist = "DoesNotExist";
inline constexpr const char* kInvalidMaterial = "InvalidMaterial";
inline constexpr const char* kSpecChanged = "SpecChanged";
inline constexpr const char* kIssuerChanged = "IssuerChanged";
inline constexpr const char* kRenewing = "Renewing";
inline constexpr const char* kFailed = "Failed";
}  // namespace certificate_reason

struct CertificateReconcilerOptions {
  // Relative spec.source paths (objects created through the API rather than a manifest file,
  // whose decoder resolves them against the file's directory) resolve against this directory.
  std::filesystem::path manifestsDir;
  // Its wallNow(): notBefore of issued certificates, validity, renewal, lastTransitionTime.
  // Tests inject a clock that they advance. Must outlive the reconciler.
  const Clock* clock = &Clock::real();
  // How often the files of an imported Certificate are stat()ed, so that a replaced file (an
  // editor's rename, a ConfigMap's ..data symlink flip, certbot's renewal) is picked up. A stat
  // of two or three files is the whole cost while nothing changes. With watchSourceFiles set,
  // this is only the safety net for what a watch cannot see (a directory that did not exist yet).
  Clock::Duration sourceCheckInterval = std::chrono::seconds(5);
  // Told which files each imported Certificate reads ("Certificate/ns/name", absolute paths) on
  // every look at them, and {} once it no longer reads any (deleted, or issued instead), so that
  // a file watcher can queue the key as soon as one of them changes. Called on reconcile
  // threads; may be empty.
  std::function<void(const std::string& key, std::vector<std::filesystem::path> files)>
      watchSourceFiles;
  // How soon a Certificate that waits for something no watch event announces is looked at again
  // (an Issuer that cannot sign yet; events usually come first).
  Clock::Duration blockedRetry = std::chrono::seconds(30);
  // Records Issued / Renewed / Imported (Normal) and IssueFailed / ImportFailed (Warning) Events,
  // once per status transition; may be null (no Events).
  std::shared_ptr<events::EventRecorder> events;
  // Which files spec.source may name (serve: the manifest directory for objects declared by
  // manifest files, --import-root for every object, never the state directory). Every file an
  // import reads goes through it. Null: no restriction (the process's own permissions only), for
  // tests and embedders that trust every writer of the store.
  std::shared_ptr<const certs::ImportPathPolicy> importPolicy;
  // Kubernetes mode: keeps issued or imported material where every replica finds it (the
  // Certificate's Secret), before the certificate store and before status names it, so that a
  // failure leaves nothing half done. Null: the certificate store only.
  std::function<Status(const std::string& storeKey, const certs::CertificateBundle& bundle)>
      publishMaterial;
  // Whether this replica may issue, import and write status (Kubernetes mode: it holds the
  // leader Lease). A Certificate reconciled while it may not is left as its source has it; the
  // caller queues every Certificate again when the answer turns true. Null: always.
  std::function<bool()> mayWrite;
  // Kubernetes mode: reads the kubernetes.io/tls Secret `name` in namespace `ns` that
  // spec.source.secretName names (the leader, through the cluster's API). Null: such a
  // Certificate is refused (InvalidSource), since the embedded server has no Secrets.
  std::function<Result<certs::CertificateBundle>(const std::string& ns, const std::string& name)>
      readSecret;
  // ACME Issuers: the accounts, the data plane's challenge answers and where an order's new key
  // waits. Without accounts and challenges, a Certificate of an ACME Issuer is IssuanceFailed.
  AcmeServices acme;
};

// Issues, renews and imports Certificates; keys are "Certificate/namespace/name". The chain and
// private key live in the CertificateStore under "namespace/name" (key 0600, never in status or
// logs); status describes the stored leaf. The store is written before status, so a reader that
// trusts status.thumbprint (the compile pass) never sees a thumbprint it cannot load; after a
// crash between the two, the next reconcile finds material that matches the spec and only
// writes status.
//
// Issued (spec.issuerRef): the material is re-issued when it is missing or unreadable, no longer
// matches the spec (names, key algorithm/size, isCA, usages, duration), was signed by another
// issuer than the current one, is expired or not yet valid, or its renewal time has come. A
// re-issue keeps the private key unless privateKey.rotationPolicy is Always or the key no longer
// has the algorithm/size the spec asks for. Renewal is a requeueAfter at renewalTime.
//
// Imported (spec.source): PEM certificate + key files or a PKCS#12 file, checked (key matches
// leaf, every certificate part of the leaf's chain, which is put in order leaf first) and copied
// into the store when they change; their files are watched (watchSourceFiles) and stat()ed every
// sourceCheckInterval. An expired or not yet valid import is Ready=False. Files that cannot be
// used (unreadable, half-written, key of another certificate) never take away what was imported
// before: while the last good import is stored and valid, it stays Ready and served, and
// Issuing=True says why the files are not taken; without one, Ready=False says it
// (InvalidSource, KeyMismatch, InvalidChain).
class CertificateReconciler final : public Reconciler {
 public:
  static constexpr const char* kKind = "Certificate";

  // `store` and `certificates` must outlive the reconciler.
  CertificateReconciler(store::Store& store, certs::CertificateStore& certificates,
                        CertificateReconcilerOptions options = {});

  std::string_view kind() const override { return kKind; }
  ReconcileResult reconcile(const std::string& key) noexcept override;
  // A Certificate's own spec change queues it; an Issuer's creation, deletion or spec change
  // queues its Certificates; any change of a CA Certificate (a re-issue shows only in status)
  // queues the Certificates of every Issuer signing with it.
  void keysFor(const store::WatchEvent& event, std::vector<QueuedKey>& keys) noexcept override;

 private:
  // What an import last saw of one of its files, so that an unchanged file is not read again.
  struct SourceFile {
    std::string path;
    FileStamp stamp;
    bool operator==(const SourceFile&) const = default;
  };
  struct ImportedSource {
    std::vector<SourceFile> files;
    std::vector<std::string> chainThumbprints;
    certs::Certificate leaf;
    // Set when a reconcile of this import found its status already right: the stored object's
    // resourceVersion then, and when the certificate's validity next changes. Until either
    // moves or a file changes, reconciling again would decide the same (see steadyImport).
    std::string steadyResourceVersion;
    std::chrono::system_clock::time_point steadyUntil{};
  };
  // The periodic look at an import whose object, files and validity are as they were when its
  // status was last found right: nothing to decode, compare or write, only the next look to
  // schedule. nullopt when anything moved (the full reconcile then runs). With 10,000 imported
  // Certificates looked at every sourceCheckInterval, this is what keeps an idle server idle.
  std::optional<ReconcileResult> steadyImport(const std::string& storeKey,
                                              const nlohmann::json& stored,
                                              std::chrono::system_clock::time_point now);
  // Records that `stored` needed no status write (see ImportedSource::steadyResourceVersion).
  void markSteady(const std::string& storeKey, const nlohmann::json& stored,
                  std::chrono::system_clock::time_point now);

  ReconcileResult run(const std::string& key);
  ReconcileResult issue(api::Certificate& certificate, const std::string& storeKey,
                        std::chrono::system_clock::time_point now);
  ReconcileResult import(api::Certificate& certificate, const std::string& storeKey,
                         std::chrono::system_clock::time_point now);
  // Records the Events for what changed from `before` to the status just written.
  void recordTransitions(const api::Certificate& certificate,
                         const api::CertificateStatus& before) const;
  // Forgets what the import of `storeKey` saw and stops watching its files.
  void forgetImport(const std::string& storeKey);

  // One look at an import's files, and the steps import() takes with it (certificate_import.cc).
  struct ImportAttempt;
  // A spec.source file outside the import policy's directories: nothing from it is kept, and
  // status says PathNotAllowed. nullopt when every file is allowed.
  std::optional<ReconcileResult> refuseForbiddenPaths(ImportAttempt& attempt);
  // Hands `paths` to watchSourceFiles (when set) and remembers that storeKey's files are watched.
  void watchFiles(const std::string& storeKey, std::vector<std::filesystem::path> paths);
  // The leaf the last import of `storeKey` took, when its files are as `stamps` says and status
  // still shows that leaf: nothing to read again.
  std::optional<certs::Certificate> cachedLeaf(const std::string& storeKey,
                                               const std::vector<SourceFile>& stamps,
                                               const std::string& thumbprint);
  // Reads and checks the files, stores what they hold when it changed, then status.
  ReconcileResult takeFiles(ImportAttempt& attempt, std::vector<SourceFile> stamps);
  // Status for files that cannot be used: the last good certificate keeps serving if there is
  // one (Issuing=True says why), otherwise Ready=False `why`.
  ReconcileResult refuse(ImportAttempt& attempt, const char* why, const std::string& message) const;
  // The bundle read (or why not), checked and stored when it changed, then status. `stamps`: the
  // files it came from, remembered so that a look at unchanged files reads nothing; nullopt for
  // a Secret, read again on every look.
  ReconcileResult takeBundle(ImportAttempt& attempt, Result<certs::CertificateBundle> bundle,
                             std::optional<std::vector<SourceFile>> stamps);
  // spec.source.secretName: the Secret through readSecret, then as takeBundle.
  ReconcileResult importSecret(api::Certificate& certificate, const std::string& storeKey,
                               std::chrono::system_clock::time_point now);
  // publishMaterial (when set), then the certificate store.
  Status storeMaterial(const std::string& storeKey, const certs::CertificateBundle& bundle);
  // Status describing `leaf`, taken from the files: Ready as its validity says.
  ReconcileResult markImported(ImportAttempt& attempt, const certs::Certificate& leaf) const;

  store::Store& store_;
  certs::CertificateStore& certificates_;
  const CertificateReconcilerOptions options_;
  CertificateDependencies dependencies_;
  GenerationFilter generations_;

  std::mutex importsMutex_;                                  // guards imports_ and watched_
  std::unordered_map<std::string, ImportedSource> imports_;  // by "namespace/name"
  std::unordered_set<std::string> watched_;  // "namespace/name" whose files are watched
};

}  // namespace siteplane::reconcile

#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/acme/account_registry.h"
#include "controller/api/issuer.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/certs/certificate_store.h"
#include "controller/certs/import_path_policy.h"
#include "controller/reconcile/acme_backoff.h"
#include "controller/reconcile/certificate_dependencies.h"
#include "controller/reconcile/generation_filter.h"
#include "controller/reconcile/reconciler.h"
#include "controller/store/store.h"

namespace siteplane::reconcile {

// Issuer Ready condition reasons.
namespace issuer_reason {
inline constexpr const char* kSelfSigned = "SelfSigned";            // True
inline constexpr const char* kKeyPairVerified = "KeyPairVerified";  // True: the CA can sign
inline constexpr const char* kCertificateNotFound = "CertificateNotFound";
inline constexpr const char* kNotCA = "NotCA";
inline constexpr const char* kCertificateNotReady = "CertificateNotReady";
inline constexpr const char* kExpired = "Expired";
// ACME: Ready=True once the account is registered; False when the server refused it or cannot be
// reached (the message is the problem document or the transport error).
inline constexpr const char* kACMEAccountRegistered = "ACMEAccountRegistered";
inline constexpr const char* kACMERegistrationFailed = "ACMERegistrationFailed";
}  // namespace issuer_reason

// What an Issuer can do right now: sign (self-signed, or with its CA's chain and key), or why not.
struct Signer {
  bool ready = false;
  std::string reason;   // an issuer_reason
  std::string message;  // says which object is the problem and why; never key material
  bool selfSigned = false;
  // A ready `ca` Issuer: the CA certificate's chain (leaf first) and key from the certificate
  // store.
  std::optional<certs::CertificateBundle> ca;
  // A ready `acme` Issuer: its settings; certificates are ordered through its account.
  std::optional<api::AcmeIssuer> acme;
  // When the answer changes without any object changing: the CA certificate's notAfter (or its
  // notBefore while it is not yet valid).
  std::optional<std::chrono::system_clock::time_point> changesAt;
};

// Resolves an Issuer spec in namespace `ns` at wall-clock time `now`:
//   selfSigned  always ready;
//   ca          ready when the referenced Certificate exists, has spec.isCA, is Ready with its
//               status.thumbprint the one in the certificate store, is a CA certificate and is
//               valid at `now`; else CertificateNotFound / NotCA / CertificateNotReady / Expired;
//   acme        ready (orders are placed through the Issuer's account; whether the account can be
//               registered is the Issuer's Ready condition and each order's outcome).
Signer resolveSigner(const store::Store& store, const certs::CertificateStore& certificates,
                     const std::string& ns, const api::IssuerSpec& spec,
                     std::chrono::system_clock::time_point now);

struct IssuerReconcilerOptions {
  // Its wallNow() for validity checks and lastTransitionTime; tests inject a fake one. Must
  // outlive the reconciler.
  const Clock* clock = &Clock::real();
  // Registers the accounts of ACME Issuers (Ready=True ACMEAccountRegistered with the account
  // URL in status.acme.uri, or False ACMERegistrationFailed with the server's problem). Null: an
  // ACME Issuer is Ready=False, since nothing here can order from it.
  std::shared_ptr<acme::AccountRegistry> acmeAccounts = nullptr;
  // Which files spec.acme.externalAccountBinding.keyFile may name (as for Certificate
  // spec.source). Null: no restriction.
  std::shared_ptr<const certs::ImportPathPolicy> importPolicy = nullptr;
  // Whether this replica may register accounts (Kubernetes mode: it leads). Null: always.
  std::function<bool()> mayWrite = nullptr;
};

// Keeps each Issuer's Ready condition true to whether it can sign (see resolveSigner). Keys are
// "Issuer/namespace/name". A change to a Certificate queues the Issuers that use it as their CA.
class IssuerReconciler final : public Reconciler {
 public:
  static constexpr const char* kKind = "Issuer";

  // `store` and `certificates` must outlive the reconciler.
  IssuerReconciler(store::Store& store, const certs::CertificateStore& certificates,
                   IssuerReconcilerOptions options = {});

  std::string_view kind() const override { return kKind; }
  ReconcileResult reconcile(const std::string& key) noexcept override;
  void keysFor(const store::WatchEvent& event, std::vector<QueuedKey>& keys) noexcept override;

 private:
  ReconcileResult run(const std::string& key);
  // An ACME Issuer's signer made ready by its registered account, or not ready with why.
  void registerAcmeAccount(const std::string& issuerKey, api::Issuer& issuer, Signer& signer);
  // spec.acme.externalAccountBinding with its key read from keyFile; nullopt without one.
  Result<std::optional<acme::ExternalAccountBinding>> externalAccountBinding(
      const api::Issuer& issuer) const;
  // The TSIG secret of each dns01.rfc2136 solver, by solver index ("" for other solvers).
  Result<std::vector<std::string>> tsigSecrets(const api::Issuer& issuer) const;
  // A small secret file named by the Issuer, read as its origin allows, trailing space trimmed.
  Result<std::string> readSecretFile(const api::Issuer& issuer, const std::string& path) const;

  store::Store& store_;
  const certs::CertificateStore& certificates_;
  const IssuerReconcilerOptions options_;
  AcmeBackoff acmeBackoff_;  // of failed ACME account registrations, by Issuer key
  CertificateDependencies dependencies_;
  GenerationFilter generations_;
};

}  // namespace siteplane::reconcile

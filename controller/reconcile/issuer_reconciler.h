#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/issuer.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/certs/certificate_store.h"
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
inline constexpr const char* kACMENotSupported = "ACMENotSupported";
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
  // When the answer changes without any object changing: the CA certificate's notAfter (or its
  // notBefore while it is not yet valid).
  std::optional<std::chrono::system_clock::time_point> changesAt;
};

// Resolves an Issuer spec in namespace `ns` at wall-clock time `now`:
//   selfSigned  always ready;
//   ca          ready when the referenced Certificate exists, has spec.isCA, is Ready with its
//               status.thumbprint the one in the certificate store, is a CA certificate and is
//               valid at `now`; else CertificateNotFound / NotCA / CertificateNotReady / Expired;
//   acme        not ready: ACMENotSupported (this build implements no RFC 8555 client).
Signer resolveSigner(const store::Store& store, const certs::CertificateStore& certificates,
                     const std::string& ns, const api::IssuerSpec& spec,
                     std::chrono::system_clock::time_point now);

struct IssuerReconcilerOptions {
  // Its wallNow() for validity checks and lastTransitionTime; tests inject a fake one. Must
  // outlive the reconciler.
  const Clock* clock = &Clock::real();
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

  store::Store& store_;
  const certs::CertificateStore& certificates_;
  const IssuerReconcilerOptions options_;
  CertificateDependencies dependencies_;
  GenerationFilter generations_;
};

}  // namespace siteplane::reconcile

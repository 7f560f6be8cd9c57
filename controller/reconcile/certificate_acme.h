#pragma once

// Internal to the Certificate reconciler: one step of the ACME order (RFC 8555 §7.4) for a
// Certificate whose Issuer is ACME. Each reconcile advances the order as far as it can without
// waiting, then asks to be looked at again; the order's URL and progress live in
// status.acme.order, so a restart resumes the order rather than placing another.
//
//   no order in status         -> newOrder; status names it
//   pending                    -> every authorization fetched; each pending one answered by its
//                                 solver (the answer handed to the data plane) and its challenge
//                                 told to validate; looked at again in a second (or Retry-After)
//   ready                      -> finalize with a CSR of the Certificate's key (a new key is kept
//                                 on disk first, so it survives a crash until the certificate is
//                                 downloaded)
//   processing                 -> looked at again
//   valid                      -> the chain downloaded (preferredChain among the alternates),
//                                 stored, status describes it; answers taken away
//   invalid, or a refusal      -> Issuing=False Failed with the problem document verbatim; the
//                                 order is dropped and a new one placed after the key's backoff
//                                 (or Retry-After)

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/acme/account_registry.h"
#include "controller/api/certificate.h"
#include "controller/api/issuer.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/certs/certificate_template.h"
#include "controller/reconcile/acme_backoff.h"
#include "controller/reconcile/certificate_staleness.h"
#include "controller/reconcile/certificate_status.h"
#include "controller/reconcile/reconciler.h"
#include "dataplane/table/challenge_answers.h"

namespace siteplane::reconcile {

// What the ACME parts of the reconciler share across reconciles.
struct AcmeServices {
  std::shared_ptr<acme::AccountRegistry> accounts;
  std::shared_ptr<table::ChallengeAnswers> challenges;
  // Where a new key waits between finalize and download: <dir>/<namespace>/<name>.key (0600).
  std::filesystem::path pendingKeys;
  std::shared_ptr<AcmeBackoff> backoff = std::make_shared<AcmeBackoff>();
  // The Binding ("namespace/name") outside namespace `ns` that claims one of `names`, or "":
  // nobody may obtain a certificate for another namespace's host, so the order is refused.
  // Null: nothing is claimed.
  std::function<std::string(const std::vector<std::string>& names, const std::string& ns)>
      claimedElsewhere;
  // Whether a listener the CA can be sent to for `name` (https: for tls-alpn-01) is open: no
  // order is placed and no challenge given to the CA before (a Binding created with its
  // Certificate may not be listening yet). Null: assumed.
  std::function<bool(const std::string& name, bool https)> listening;
  // Kubernetes mode: whether the cluster holds the status that carries the answer with `token`
  // for the Certificate `storeKey`, so that every replica answers it; the CA is told only then.
  // Null: the local store is every replica there is.
  std::function<bool(const std::string& storeKey, const std::string& token)> answerPublished;
};

struct AcmeOrderStep {
  api::Certificate& certificate;
  const std::string& storeKey;  // "namespace/name"
  std::chrono::system_clock::time_point now;
  const ConditionSetter& setCondition;
  const certs::CertificateBundle* current;  // what the certificate store holds, if anything
  std::optional<std::chrono::system_clock::time_point> currentRenewal;
  const Staleness& stale;
  const certs::CertificateTemplate& request;
  const std::string& issuerRef;  // "namespace/name"
  const api::AcmeIssuer& issuer;
  const AcmeServices& services;
  // Keeps the issued material (publishMaterial, then the certificate store).
  std::function<Status(const certs::CertificateBundle&)> store;
};

ReconcileResult advanceAcmeOrder(AcmeOrderStep& step);

// Ends what an order of `storeKey` left: its answers and its waiting key (the Certificate was
// deleted, or no longer has an ACME Issuer).
void abandonAcmeOrder(const AcmeServices& services, const std::string& storeKey);

}  // namespace siteplane::reconcile

#pragma once

// Internal to the Certificate reconciler (certificate_reconciler.cc, certificate_issue.cc,
// certificate_import.cc): how it writes a Certificate's status, at the time and generation of
// one reconcile.

#include <chrono>
#include <optional>
#include <string>

#include "controller/api/certificate.h"
#include "controller/api/time.h"
#include "controller/certs/certificate.h"
#include "controller/reconcile/reconciler.h"

namespace siteplane::reconcile {

// Whole seconds, as status and X.509 keep times.
api::Time toTime(std::chrono::system_clock::time_point time);
std::string formatTime(std::chrono::system_clock::time_point time);

// Sets one condition of a Certificate's status at one reconcile's time and generation. Holds a
// reference to the Certificate's status, which must outlive it.
class ConditionSetter {
 public:
  ConditionSetter(api::Certificate& certificate, std::chrono::system_clock::time_point now)
      : status_(certificate.status), generation_(certificate.metadata.generation), now_(now) {}

  void operator()(const char* type, bool isTrue, const char* why, std::string message) const;

 private:
  api::CertificateStatus& status_;
  int64_t generation_;
  std::chrono::system_clock::time_point now_;
};

// Status fields describing the stored leaf; revision counts the distinct certificates issued or
// imported for this object.
void describe(api::CertificateStatus& status, const certs::Certificate& leaf,
              std::optional<std::chrono::system_clock::time_point> renewal);

// At least a second, so that a time already reached is looked at again soon rather than in a
// tight loop, and rounded up, so the reconcile happens at or after `when`, never just before.
ReconcileResult requeueAt(std::chrono::system_clock::time_point when,
                          std::chrono::system_clock::time_point now);

}  // namespace siteplane::reconcile

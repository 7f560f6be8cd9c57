#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/metrics/histogram.h"
#include "controller/reconcile/reconciler.h"

namespace siteplane::reconcile {

// What the ControllerManager measures around each reconcile, per reconciler kind (Certificate,
// Issuer, BindingTable): how long it took and how it ended. Recording never takes a lock —
// reconciles run on several threads and must not queue behind a /metrics scrape — because the set
// of kinds is fixed before the first reconcile and each kind's figures are atomics.
class ReconcileMetrics {
 public:
  // Upper bounds of the duration histogram, in seconds: from a reconcile that only finds nothing
  // changed (well under a millisecond) to issuing an RSA-4096 key or compiling ten thousand
  // bindings (tens of seconds).
  static const std::vector<double>& durationBounds();

  struct KindSnapshot {
    metrics::HistogramSnapshot duration;  // seconds
    uint64_t succeeded = 0;               // ReconcileResult::done()
    uint64_t requeued = 0;                // requeueAfter(): converged, looks again later
    uint64_t failed = 0;                  // retry(): an error, retried with backoff
  };

  ReconcileMetrics() = default;
  ReconcileMetrics(const ReconcileMetrics&) = delete;
  ReconcileMetrics& operator=(const ReconcileMetrics&) = delete;

  // Precondition: called before the first record() of any kind (the manager registers kinds in
  // add(), before start()). Adding a kind twice keeps its figures.
  void addKind(std::string_view kind);
  // Any thread, lock-free. A kind never added is not recorded.
  void record(std::string_view kind, Clock::Duration took, ReconcileResult::Action action) noexcept;
  // Kind -> figures, in kind order. Any thread.
  std::map<std::string, KindSnapshot, std::less<>> snapshot() const;

 private:
  struct PerKind {
    metrics::Histogram duration{durationBounds()};
    std::atomic<uint64_t> succeeded{0};
    std::atomic<uint64_t> requeued{0};
    std::atomic<uint64_t> failed{0};
  };
  // Written only by addKind() before reconciles run, read-only afterwards: read without a lock.
  std::map<std::string, std::unique_ptr<PerKind>, std::less<>> kinds_;
};

}  // namespace siteplane::reconcile

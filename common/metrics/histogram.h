#pragma once

// A Prometheus histogram recorded from many threads without a lock: one atomic counter per bucket
// and an atomic sum. Observations and snapshots never block each other.
//
//   Histogram latency({0.01, 0.1, 1});
//   latency.observe(0.042);                      // any thread
//   HistogramSnapshot s = latency.snapshot();    // s.cumulativeCounts == {0, 1, 1}, s.count == 1

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/metrics/histogram_snapshot.h"

namespace siteplane::metrics {

class Histogram {
 public:
  // Precondition: upperBounds strictly increasing and finite (the +Inf bucket is implied). Bounds
  // are constants of the code that records, so a violation is a programming error (asserted).
  explicit Histogram(std::vector<double> upperBounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `value` in the first bucket whose upper bound is >= value (Prometheus' "le"). A NaN is
  // ignored: it belongs to no bucket and would poison the sum.
  void observe(double value) noexcept;

  // A copy of the counts. Buckets are read one after another while others may observe, so a
  // snapshot can miss an observation made during it; `count` is the sum of the buckets read, so
  // the +Inf bucket and _count always agree.
  HistogramSnapshot snapshot() const;

  const std::vector<double>& upperBounds() const { return upperBounds_; }

 private:
  const std::vector<double> upperBounds_;
  // One per upper bound plus the +Inf bucket; each counts only its own range (not cumulative),
  // so an observation touches one counter.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

}  // namespace siteplane::metrics

#include "common/metrics/histogram.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace siteplane::metrics {

Histogram::Histogram(std::vector<double> upperBounds)
    : upperBounds_(std::move(upperBounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(upperBounds_.size() + 1)) {
  // The bounds are the caller's constants; see the precondition in the header.
  assert(std::adjacent_find(upperBounds_.begin(), upperBounds_.end(),
                            [](double a, double b) { return !(a < b); }) == upperBounds_.end());
  assert(std::all_of(upperBounds_.begin(), upperBounds_.end(),
                     [](double bound) { return std::isfinite(bound); }));
}

void Histogram::observe(double value) noexcept {
  if (std::isnan(value)) return;
  auto bucket = std::lower_bound(upperBounds_.begin(), upperBounds_.end(), value);
  buckets_[static_cast<size_t>(bucket - upperBounds_.begin())].fetch_add(1,
                                                                         std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot out;
  out.upperBounds = upperBounds_;
  out.cumulativeCounts.reserve(upperBounds_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < upperBounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulativeCounts.push_back(running);
  }
  out.count = running + buckets_[upperBounds_.size()].load(std::memory_order_relaxed);
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

}  // namespace siteplane::metrics

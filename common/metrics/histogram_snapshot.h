#pragma once

#include <cstdint>
#include <vector>

namespace siteplane::metrics {

// A histogram's state at one moment, as the exposition format writes it.
struct HistogramSnapshot {
  std::vector<double> upperBounds;         // strictly increasing, finite; +Inf is implied
  std::vector<uint64_t> cumulativeCounts;  // per upper bound: observations <= that bound
  uint64_t count = 0;                      // every observation (the +Inf bucket)
  double sum = 0;
};

}  // namespace siteplane::metrics

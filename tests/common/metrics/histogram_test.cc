#include "common/metrics/histogram.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <thread>
#include <vector>

namespace siteplane::metrics {

TEST_CASE("Histogram counts each observation in the first bucket whose bound is not below it",
          "[common][metrics]") {
  Histogram histogram({0.01, 0.1, 1});
  histogram.observe(0.01);  // on the bound: le is inclusive
  histogram.observe(0.05);
  histogram.observe(0.1);
  histogram.observe(5);             // above every bound: +Inf only
  histogram.observe(-1);            // below every bound: first bucket
  histogram.observe(std::nan(""));  // ignored

  HistogramSnapshot snapshot = histogram.snapshot();
  CHECK(snapshot.upperBounds == std::vector<double>{0.01, 0.1, 1});
  CHECK(snapshot.cumulativeCounts == std::vector<uint64_t>{2, 4, 4});
  CHECK(snapshot.count == 5);
  CHECK(snapshot.sum == Approx(0.01 + 0.05 + 0.1 + 5 - 1));
}

TEST_CASE("Histogram loses no observation made from many threads at once", "[common][metrics]") {
  Histogram histogram({1, 2});
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&histogram, t] {
      for (int i = 0; i < kEach; ++i) histogram.observe(t % 2 == 0 ? 0.5 : 1.5);
    });
  }
  for (auto& thread : threads) thread.join();
  HistogramSnapshot snapshot = histogram.snapshot();
  CHECK(snapshot.cumulativeCounts == std::vector<uint64_t>{2 * kEach, 4 * kEach});
  CHECK(snapshot.count == 4 * kEach);
  CHECK(snapshot.sum == Approx(2 * kEach * 0.5 + 2 * kEach * 1.5));
}

}  // namespace siteplane::metrics

#pragma once

#include <chrono>
#include <random>

namespace siteplane::kube {

// client-go's wait.Jitter(duration, maxFactor): `duration` made up to maxFactor x longer at
// random, so that replicas started together (electing, or retrying a down API server) do not ask
// in lockstep.
inline std::chrono::milliseconds jittered(std::chrono::milliseconds duration, double maxFactor) {
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_real_distribution<double> extra(0.0, maxFactor);
  return std::chrono::milliseconds(
      static_cast<long long>(static_cast<double>(duration.count()) * (1.0 + extra(random))));
}

}  // namespace siteplane::kube

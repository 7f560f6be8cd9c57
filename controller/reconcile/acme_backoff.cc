#include "controller/reconcile/acme_backoff.h"

#include <algorithm>

namespace siteplane::reconcile {

std::chrono::seconds AcmeBackoff::failed(const std::string& storeKey) {
  std::lock_guard lock(mutex_);
  polls_.erase(storeKey);
  const int failures = std::min(++failures_[storeKey], 10);
  return std::min(std::chrono::seconds(10) * (1 << (failures - 1)), std::chrono::seconds(3600));
}

std::chrono::seconds AcmeBackoff::poll(const std::string& storeKey) {
  std::lock_guard lock(mutex_);
  const int polls = ++polls_[storeKey];
  if (polls <= 10) return std::chrono::seconds(1);
  return std::min(std::chrono::seconds(1 << std::min(polls - 10, 6)), std::chrono::seconds(60));
}

void AcmeBackoff::succeeded(const std::string& storeKey) {
  std::lock_guard lock(mutex_);
  failures_.erase(storeKey);
  polls_.erase(storeKey);
}

}  // namespace siteplane::reconcile

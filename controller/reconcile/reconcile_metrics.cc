#include "controller/reconcile/reconcile_metrics.h"

#include <chrono>

namespace siteplane::reconcile {

const std::vector<double>& ReconcileMetrics::durationBounds() {
  static const std::vector<double> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
  return kBounds;
}

void ReconcileMetrics::addKind(std::string_view kind) {
  if (kinds_.find(kind) == kinds_.end())
    kinds_.emplace(std::string(kind), std::make_unique<PerKind>());
}

void ReconcileMetrics::record(std::string_view kind, Clock::Duration took,
                              ReconcileResult::Action action) noexcept {
  auto found = kinds_.find(kind);
  if (found == kinds_.end()) return;
  PerKind& figures = *found->second;
  figures.duration.observe(std::chrono::duration<double>(took).count());
  switch (action) {
    case ReconcileResult::Action::kDone:
      figures.succeeded.fetch_add(1, std::memory_order_relaxed);
      break;
    case ReconcileResult::Action::kRequeueAfter:
      figures.requeued.fetch_add(1, std::memory_order_relaxed);
      break;
    case ReconcileResult::Action::kRetry:
      figures.failed.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

std::map<std::string, ReconcileMetrics::KindSnapshot, std::less<>> ReconcileMetrics::snapshot()
    const {
  std::map<std::string, KindSnapshot, std::less<>> out;
  for (const auto& [kind, figures] : kinds_) {
    KindSnapshot& snapshot = out[kind];
    snapshot.duration = figures->duration.snapshot();
    snapshot.succeeded = figures->succeeded.load(std::memory_order_relaxed);
    snapshot.requeued = figures->requeued.load(std::memory_order_relaxed);
    snapshot.failed = figures->failed.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace siteplane::reconcile

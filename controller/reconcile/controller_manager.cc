#include "controller/reconcile/controller_manager.h"

#include "common/logging.h"

namespace siteplane::reconcile {
namespace {

std::string_view kindOfKey(std::string_view key) { return key.substr(0, key.find('/')); }

}  // namespace

ControllerManager::ControllerManager(store::Store& store, Clock& clock, WorkQueueOptions options)
    : store_(store), clock_(clock), queue_(clock, options) {}

ControllerManager::~ControllerManager() { stop(); }

bool ControllerManager::add(std::unique_ptr<Reconciler> reconciler) {
  std::string kind(reconciler->kind());
  if (reconcilers_.count(kind)) return false;
  ordered_.push_back(reconciler.get());
  metrics_.addKind(kind);
  reconcilers_.emplace(std::move(kind), std::move(reconciler));
  return true;
}

void ControllerManager::start(unsigned workers) {
  // Subscribe before listing: a change between the two is then seen twice (harmless, the queue
  // deduplicates) rather than not at all.
  subscription_ = store_.subscribe([this](const store::WatchEvent& event) { onEvent(event); });
  std::vector<QueuedKey> initial;
  for (Reconciler* reconciler : ordered_) reconciler->initialKeys(initial);
  for (const auto& key : initial) queue_.addAfter(key.key, key.delay);
  store::ObjectList all = store_.list({});
  for (const auto& object : all.items) {
    store::WatchEvent event;
    event.type = store::WatchEvent::Type::kAdded;
    event.object = object;
    const auto& metadata = (*object)["metadata"];
    event.key = {object->value("kind", ""), metadata.value("namespace", ""),
                 metadata.value("name", "")};
    onEvent(event);
  }
  if (workers == 0) workers = 1;
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  logger("controller.reconcile")
      ->info("controller_started workers={} reconcilers={} objects={}", workers, ordered_.size(),
             all.items.size());
}

void ControllerManager::enqueue(const QueuedKey& key) { queue_.addAfter(key.key, key.delay); }

void ControllerManager::stop() {
  std::lock_guard lock(stopMutex_);
  if (stopped_) return;
  stopped_ = true;
  // Cancel first so no watch callback enqueues into a queue that is going away.
  subscription_.cancel();
  queue_.shutDown();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void ControllerManager::onEvent(const store::WatchEvent& event) noexcept {
  std::vector<QueuedKey> keys;
  for (Reconciler* reconciler : ordered_) reconciler->keysFor(event, keys);
  for (const auto& key : keys) queue_.addAfter(key.key, key.delay);
}

Reconciler* ControllerManager::owner(std::string_view key) const {
  auto found = reconcilers_.find(std::string(kindOfKey(key)));
  return found == reconcilers_.end() ? nullptr : found->second.get();
}

void ControllerManager::work() noexcept {
  auto log = logger("controller.reconcile");
  while (auto key = queue_.get()) {
    Reconciler* reconciler = owner(*key);
    if (!reconciler) {
      log->error("reconcile_unowned key={}", *key);
      queue_.done(*key);
      continue;
    }
    Clock::TimePoint began = clock_.now();
    ReconcileResult result = reconciler->reconcile(*key);
    metrics_.record(reconciler->kind(), clock_.now() - began, result.action);
    switch (result.action) {
      case ReconcileResult::Action::kDone:
        queue_.forget(*key);
        break;
      case ReconcileResult::Action::kRequeueAfter:
        queue_.forget(*key);
        queue_.addAfter(*key, result.after);
        break;
      case ReconcileResult::Action::kRetry:
        log->warn("reconcile_failed key={} attempt={} error=\"{}\"", *key,
                  queue_.numRequeues(*key) + 1, result.error);
        queue_.addRateLimited(*key);
        break;
    }
    queue_.done(*key);
  }
}

}  // namespace siteplane::reconcile

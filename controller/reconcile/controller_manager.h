#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "controller/reconcile/reconcile_metrics.h"
#include "controller/reconcile/reconciler.h"
#include "controller/reconcile/work_queue.h"
#include "controller/store/store.h"

namespace siteplane::reconcile {

// Runs the registered reconcilers: one WorkQueue, N worker threads, and a store subscription that
// turns every change into keys through each reconciler's keysFor().
//
//   ControllerManager manager(store);
//   manager.add(std::make_unique<CompileReconciler>(...));   // before start()
//   manager.start(2);        // queues every stored object's keys, then follows the watch
//   ...
//   manager.stop();          // stops handing out keys, joins the workers (a reconcile in flight
//                            // finishes), cancels the subscription
//
// Keys are dispatched by their first segment (up to the first '/') to the reconciler of that
// kind(); a key no reconciler owns is logged and dropped.
//
// Every reconcile is measured (metrics(): duration and outcome per kind, on the manager's clock),
// and queue() says how many keys wait; /metrics reads both while the workers run.
class ControllerManager {
 public:
  // `store` and `clock` must outlive the manager.
  explicit ControllerManager(store::Store& store, Clock& clock = Clock::real(),
                             WorkQueueOptions options = {});
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  // Registers a reconciler. Precondition: before start(); kind() not registered yet (returns
  // false when it is).
  bool add(std::unique_ptr<Reconciler> reconciler);

  // Subscribes to the store, queues every reconciler's initialKeys() and the keys of every stored
  // object, and starts `workers` threads.
  void start(unsigned workers);
  // Queues a key from outside the store's watch (a file watcher, a timer).
  void enqueue(const QueuedKey& key);
  // Idempotent. Keys still queued are dropped: their state is in the store and is reconciled
  // again on the next start.
  void stop();

  WorkQueue& queue() { return queue_; }
  const WorkQueue& queue() const { return queue_; }
  const ReconcileMetrics& metrics() const { return metrics_; }

 private:
  void onEvent(const store::WatchEvent& event) noexcept;
  void work() noexcept;
  Reconciler* owner(std::string_view key) const;

  store::Store& store_;
  Clock& clock_;
  WorkQueue queue_;
  ReconcileMetrics metrics_;
  // Written only before start(), read-only afterwards: workers and the watch read it unlocked.
  std::unordered_map<std::string, std::unique_ptr<Reconciler>> reconcilers_;
  std::vector<Reconciler*> ordered_;  // registration order, for keysFor()
  store::Subscription subscription_;
  std::vector<std::thread> threads_;
  std::mutex stopMutex_;  // guards stopped_ and the shutdown sequence
  bool stopped_ = false;
};

}  // namespace siteplane::reconcile

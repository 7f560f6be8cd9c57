#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "controller/store/watch_event.h"

namespace siteplane::reconcile {

// What a reconcile asks of the queue afterwards (controller-runtime's reconcile.Result).
struct ReconcileResult {
  enum class Action {
    kDone,          // converged; the key's backoff is forgotten
    kRequeueAfter,  // converged for now, look again after `after` (renewal, a port to retry)
    kRetry,         // failed: retried with the key's exponential backoff; `error` is logged
  };
  Action action = Action::kDone;
  Clock::Duration after{};
  std::string error;

  static ReconcileResult done() { return {}; }
  static ReconcileResult requeueAfter(Clock::Duration delay) {
    return {Action::kRequeueAfter, delay, {}};
  }
  static ReconcileResult retry(std::string error) { return {Action::kRetry, {}, std::move(error)}; }
};

// A key to queue, now or after a delay (a delay coalesces a burst of events into one reconcile,
// since the earlier of two delays for one key wins).
struct QueuedKey {
  std::string key;
  Clock::Duration delay{};
};

// One reconciler of the controller: it owns the keys whose first segment is kind() ("Certificate"
// owns "Certificate/default/contoso-tls"; the compile pass owns its single "BindingTable/..." key).
// Reconcilers are registered with the ControllerManager, which runs them on its worker threads;
// the manager never runs one key on two threads at once, but may run different keys of one
// reconciler concurrently.
class Reconciler {
 public:
  virtual ~Reconciler() = default;

  // The first segment of the keys this reconciler owns. Unique among registered reconcilers.
  virtual std::string_view kind() const = 0;

  // Converges the state for `key`, reading the store afresh (level-triggered: a deleted object
  // shows up as its absence). Called on a manager worker thread; must not throw.
  virtual ReconcileResult reconcile(const std::string& key) noexcept = 0;

  // The keys a store change makes stale, appended to `keys`: the changed object's own key, or
  // those of objects depending on it (an Issuer change -> its Certificates). Called for every
  // change on the store's watch thread, and once per stored object at start: quick, no store
  // writes, must not throw.
  virtual void keysFor(const store::WatchEvent& event, std::vector<QueuedKey>& keys) noexcept = 0;

  // Keys to reconcile once at start whatever the store holds: a reconciler whose output must
  // exist even for an empty store (the compile pass publishes an empty table, which is what makes
  // a server with nothing declared ready) names them here. Called once, before the workers start.
  virtual void initialKeys(std::vector<QueuedKey>& keys) noexcept { (void)keys; }
};

}  // namespace siteplane::reconcile

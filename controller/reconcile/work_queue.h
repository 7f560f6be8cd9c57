#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/clock.h"

namespace siteplane::reconcile {

// Backoff of WorkQueue::addRateLimited (client-go's defaults).
struct WorkQueueOptions {
  Clock::Duration baseDelay = std::chrono::milliseconds(5);
  Clock::Duration maxDelay = std::chrono::seconds(1000);
};

// The controller's queue of object keys ("Kind/namespace/name"), with client-go workqueue
// semantics:
//   - add() deduplicates: a key already waiting to be processed is not queued twice, so a burst
//     of events for one object costs one reconcile (reconcilers are level-triggered and read the
//     current state anyway);
//   - a key handed out by get() is "processing" until done(key); adding it meanwhile marks it
//     dirty and it is queued again only at done(), so no two workers ever process one key at once
//     and no change is missed;
//   - addAfter() delays a key on a timer: a worker waiting in get() sleeps exactly until the
//     earliest delay ends (no polling); the earlier of two delays for one key wins;
//   - addRateLimited() delays by the key's exponential backoff, baseDelay * 2^failures capped at
//     maxDelay; forget() resets it once the key succeeds;
//   - shutDown() makes every get() return nullopt (blocked ones at once) and ignores later adds;
//     keys still queued are dropped, which is safe because the state they stand for is in the
//     store and is reconciled again on start.
// Thread-safe; any number of workers may call get()/done() while others add. Destroy the queue
// only after its workers have returned from get().
class WorkQueue {
 public:
  using Options = WorkQueueOptions;

  // `clock` must outlive the queue.
  explicit WorkQueue(Clock& clock = Clock::real(), Options options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  // add() once `delay` has passed; a delay <= 0 adds at once.
  void addAfter(const std::string& key, Clock::Duration delay);
  // addAfter() with the key's next backoff delay, and counts one more failure for it.
  void addRateLimited(const std::string& key);
  // Forgets the key's failures: its next addRateLimited() waits baseDelay again.
  void forget(const std::string& key);
  // How many failures addRateLimited() has counted for the key since the last forget().
  int numRequeues(const std::string& key) const;

  // Blocks until a key is ready and hands it out (marking it processing); nullopt once shut down.
  std::optional<std::string> get();
  // The non-blocking get(): nullopt when no key is ready now (or the queue is shut down).
  std::optional<std::string> tryGet();
  // Ends the processing of a key from get(); if it was added meanwhile, queues it again.
  void done(const std::string& key);

  void shutDown();
  bool isShuttingDown() const;
  // Keys ready to hand out now (excludes delayed and processing keys).
  size_t length() const;
  // Keys waiting on a delay (addAfter / addRateLimited) that has not ended yet.
  size_t delayedCount() const;

 private:
  // Preconditions for the *Locked helpers: mutex_ held.
  // Wakes one worker for a key that just became ready.
  void wakeForReadyLocked();
  void addLocked(const std::string& key);
  void promoteDueLocked();
  std::optional<std::string> popLocked();

  Clock& clock_;
  const Options options_;

  mutable std::mutex mutex_;                    // guards everything below
  std::condition_variable cv_;                  // idle workers wait here for ready keys
  std::condition_variable timerCv_;             // the one worker that waits for the earliest delay
  bool timerWaiter_ = false;                    // whether a worker waits on timerCv_
  int idleWaiters_ = 0;                         // workers waiting on cv_
  std::deque<std::string> queue_;               // ready keys in FIFO order, each once
  std::unordered_set<std::string> dirty_;       // keys that need processing (queued or not)
  std::unordered_set<std::string> processing_;  // keys handed out and not yet done()
  std::map<std::string, Clock::TimePoint> delayedUntil_;        // key -> when it becomes ready
  std::set<std::pair<Clock::TimePoint, std::string>> delayed_;  // the same, ordered by time
  std::unordered_map<std::string, int> failures_;
  bool shuttingDown_ = false;

  uint64_t wakeListener_ = 0;  // set in the constructor, removed in the destructor
};

}  // namespace siteplane::reconcile

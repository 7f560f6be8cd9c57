#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "controller/store/watch_event.h"

namespace siteplane::store {

class EventDispatcher;

// Keeps one watch alive; destroying it (or cancel()) stops the callback. After cancel() returns,
// the callback is not running and will not run again — unless cancel() is called from inside a
// callback on the delivering thread, in which case only later calls are prevented.
class Subscription {
 public:
  Subscription() = default;
  Subscription(std::weak_ptr<EventDispatcher> dispatcher, uint64_t id)
      : dispatcher_(std::move(dispatcher)), id_(id) {}
  ~Subscription() { cancel(); }
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  void cancel();
  bool active() const { return id_ != 0; }

 private:
  std::weak_ptr<EventDispatcher> dispatcher_;
  uint64_t id_ = 0;
};

// Hands committed events to subscribers: in resourceVersion order, one callback at a time, never
// reentrantly, and never while a store lock is held.
//
// There is no dispatcher thread: whichever thread calls deliver() drains the queue. A writer
// enqueues its event while it still holds the store's lock (so the queue is in resourceVersion
// order) and calls deliver() after releasing it. deliveryMutex_ lets one thread deliver at a time;
// a writer that finds another thread delivering waits for it and then delivers what is left, so
// no event is stranded. A callback that writes to the store enqueues its event and returns at
// once (deliver() sees that its own thread is delivering); the outer loop delivers that event
// after the callback returns.
class EventDispatcher {
 public:
  EventDispatcher() = default;
  EventDispatcher(const EventDispatcher&) = delete;
  EventDispatcher& operator=(const EventDispatcher&) = delete;

  // Precondition: called with the store's lock held, in resourceVersion order.
  void enqueue(WatchEvent event);

  // Adds a subscriber that first gets `backlog`, then every enqueued event with a resourceVersion
  // above `cursor` (events at or below it are in the backlog or predate the subscription).
  // Precondition: called with the store's lock held, so that no event slips between the backlog
  // and the cursor. Returns the subscription id (never 0).
  uint64_t addSubscriber(WatchCallback callback, std::vector<WatchEvent> backlog, uint64_t cursor);
  void removeSubscriber(uint64_t id);

  // Delivers everything queued. Call without holding any store lock.
  void deliver();

 private:
  struct Subscriber {
    uint64_t id = 0;
    WatchCallback callback;
    std::deque<WatchEvent> backlog;  // guarded by mutex_
    uint64_t cursor = 0;             // touched only by the delivering thread
    std::atomic<bool> active{true};
  };

  void call(Subscriber& subscriber, const WatchEvent& event);

  std::mutex mutex_;  // guards pending_, subscribers_, nextId_ and Subscriber::backlog
  std::deque<WatchEvent> pending_;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
  uint64_t nextId_ = 1;

  // Held by the thread running callbacks; serializes callbacks across threads.
  std::mutex deliveryMutex_;
  std::atomic<std::thread::id> deliveringThread_{};
};

}  // namespace siteplane::store

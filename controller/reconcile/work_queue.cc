#include "controller/reconcile/work_queue.h"

#include <algorithm>
#include <cmath>

namespace siteplane::reconcile {

WorkQueue::WorkQueue(Clock& clock, Options options) : clock_(clock), options_(options) {
  // A fake clock jumps; waiters sleeping until a delay ends must re-check the time when it does.
  // Locking mutex_ here means the notify cannot slip between a waiter's time check and its wait.
  wakeListener_ = clock_.addWakeListener([this] {
    std::lock_guard lock(mutex_);
    timerCv_.notify_all();
  });
}

WorkQueue::~WorkQueue() {
  clock_.removeWakeListener(wakeListener_);
  shutDown();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  addLocked(key);
}

void WorkQueue::addLocked(const std::string& key) {
  if (shuttingDown_) return;
  if (!dirty_.insert(key).second) return;  // already waiting: deduplicated
  // A key being processed is queued again by done(), never handed to a second worker now.
  if (processing_.count(key)) return;
  queue_.push_back(key);
  wakeForReadyLocked();
}

void WorkQueue::wakeForReadyLocked() {
  // An idle worker takes it; when every idle worker is the timer's, that one.
  if (idleWaiters_ > 0) {
    cv_.notify_one();
  } else {
    timerCv_.notify_one();
  }
}

void WorkQueue::addAfter(const std::string& key, Clock::Duration delay) {
  if (delay <= Clock::Duration::zero()) {
    add(key);
    return;
  }
  std::lock_guard lock(mutex_);
  if (shuttingDown_) return;
  Clock::TimePoint readyAt = clock_.now() + delay;
  const bool earliest = delayed_.empty() || readyAt < delayed_.begin()->first;
  auto existing = delayedUntil_.find(key);
  if (existing != delayedUntil_.end()) {
    if (existing->second <= readyAt) return;  // the earlier delay wins
    delayed_.erase({existing->second, key});
    existing->second = readyAt;
  } else {
    delayedUntil_.emplace(key, readyAt);
  }
  delayed_.emplace(readyAt, key);
  // One worker at most sleeps until the earliest deadline (see get()); it needs waking only when
  // this deadline is earlier than the one it sleeps until. With none, an idle worker takes the
  // role. The others sleep on: waking every worker for every requeue (thousands of imported
  // Certificates rechecked every few seconds) would cost more than the rechecks.
  if (timerWaiter_) {
    if (earliest) timerCv_.notify_one();
  } else {
    cv_.notify_one();
  }
}

void WorkQueue::addRateLimited(const std::string& key) {
  Clock::Duration delay;
  {
    std::lock_guard lock(mutex_);
    int failures = failures_[key]++;
    // base * 2^failures, computed in double so that a long failure streak saturates at maxDelay
    // instead of overflowing.
    double scaled = static_cast<double>(options_.baseDelay.count()) *
                    std::pow(2.0, static_cast<double>(std::min(failures, 62)));
    double cap = static_cast<double>(options_.maxDelay.count());
    delay = Clock::Duration(static_cast<Clock::Duration::rep>(std::min(scaled, cap)));
  }
  addAfter(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

int WorkQueue::numRequeues(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = failures_.find(key);
  return found == failures_.end() ? 0 : found->second;
}

void WorkQueue::promoteDueLocked() {
  if (delayed_.empty()) return;
  Clock::TimePoint now = clock_.now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayedUntil_.erase(key);
    addLocked(key);
  }
}

std::optional<std::string> WorkQueue::popLocked() {
  if (shuttingDown_) return std::nullopt;
  promoteDueLocked();
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (shuttingDown_) return std::nullopt;
    if (auto key = popLocked()) return key;
    if (delayed_.empty() || timerWaiter_) {
      ++idleWaiters_;
      cv_.wait(lock);
      --idleWaiters_;
      continue;
    }
    // This worker keeps the timer: it alone sleeps until the earliest delay ends. When it leaves
    // with a key, another idle worker takes over while delays remain.
    timerWaiter_ = true;
    clock_.waitUntil(lock, timerCv_, delayed_.begin()->first);
    timerWaiter_ = false;
    if (auto key = popLocked()) {
      if (!delayed_.empty()) cv_.notify_one();
      return key;
    }
  }
}

std::optional<std::string> WorkQueue::tryGet() {
  std::lock_guard lock(mutex_);
  return popLocked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (dirty_.count(key) && !shuttingDown_) {
    queue_.push_back(key);
    wakeForReadyLocked();
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mutex_);
  shuttingDown_ = true;
  cv_.notify_all();
  timerCv_.notify_all();
}

bool WorkQueue::isShuttingDown() const {
  std::lock_guard lock(mutex_);
  return shuttingDown_;
}

size_t WorkQueue::length() const {
  std::lock_guard lock(mutex_);
  Clock::TimePoint now = clock_.now();
  size_t due = 0;
  // Delayed keys whose time has come count as ready even before a get() moves them.
  for (const auto& [readyAt, key] : delayed_) {
    if (readyAt > now) break;
    // Promotion would fold it into a waiting entry or park it behind its processing.
    if (!dirty_.count(key) && !processing_.count(key)) ++due;
  }
  return queue_.size() + due;
}

size_t WorkQueue::delayedCount() const {
  std::lock_guard lock(mutex_);
  Clock::TimePoint now = clock_.now();
  return static_cast<size_t>(std::count_if(delayed_.begin(), delayed_.end(),
                                           [&](const auto& entry) { return entry.first > now; }));
}

}  // namespace siteplane::reconcile

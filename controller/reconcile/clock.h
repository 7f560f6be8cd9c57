#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace siteplane::reconcile {

// Monotonic time for the controller's timers (work-queue delays, backoff, requeue-after), behind
// an interface so that tests drive time instead of sleeping.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;

  virtual TimePoint now() const = 0;

  // Blocks on `cv` (whose mutex `lock` holds) until it is notified or now() reaches `deadline`.
  // Spurious wake-ups are allowed: the caller re-checks its condition and the time.
  virtual void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) = 0;

  // `wake` is called after every jump of a clock that moves in jumps (FakeClock), so that a
  // waiter in waitUntil() can re-check the time; a real clock never calls it. Returns an id for
  // removeWakeListener(). `wake` may lock the waiter's mutex: the clock never calls it with a
  // lock that a waiter holds, and now() takes no lock.
  virtual uint64_t addWakeListener(std::function<void()> wake) = 0;
  // After it returns, `wake` is not running and will not run again.
  virtual void removeWakeListener(uint64_t id) = 0;

  // The process-wide real clock (std::chrono::steady_clock).
  static Clock& real();
};

// The real clock: steady_clock, with condition_variable timed waits as the timer.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override {
    cv.wait_until(lock, deadline);
  }
  uint64_t addWakeListener(std::function<void()>) override { return 0; }
  void removeWakeListener(uint64_t) override {}
};

// A clock that moves only when a test calls advance(). Waiters sleep without a timeout; advance()
// wakes them through their wake listeners so they re-check the time.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::hours(1))) : nanos_(toNanos(start)) {}

  TimePoint now() const override {
    return TimePoint(Duration(std::chrono::nanoseconds(nanos_.load())));
  }

  void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override {
    if (now() < deadline) cv.wait(lock);
  }

  uint64_t addWakeListener(std::function<void()> wake) override {
    std::lock_guard guard(listenersMutex_);
    listeners_.emplace(nextId_, std::move(wake));
    return nextId_++;
  }

  void removeWakeListener(uint64_t id) override {
    std::lock_guard guard(listenersMutex_);
    listeners_.erase(id);
  }

  void advance(Duration step) {
    nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(step).count();
    // Listeners run under listenersMutex_, so removeWakeListener() waits for a running one.
    std::lock_guard guard(listenersMutex_);
    for (auto& [id, wake] : listeners_) wake();
  }

 private:
  static int64_t toNanos(TimePoint time) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  }

  std::atomic<int64_t> nanos_;
  std::mutex listenersMutex_;  // guards listeners_ and nextId_
  std::map<uint64_t, std::function<void()>> listeners_;
  uint64_t nextId_ = 1;
};

}  // namespace siteplane::reconcile

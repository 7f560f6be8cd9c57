#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace siteplane {

// The controller's one notion of time, behind an interface so that tests drive time instead of
// sleeping: monotonic now() for timers (work-queue delays, backoff, requeue-after, durations),
// wall-clock wallNow() for what is compared with or written as a date (certificate validity and
// renewal, notBefore/notAfter of issued certificates, creationTimestamp, lastTransitionTime,
// Event times, metrics of expiry). The server core hands one Clock to every controller part;
// the data plane keeps its per-request timers on its libuv loop's time.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;

  virtual TimePoint now() const = 0;
  virtual WallTime wallNow() const = 0;

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

  // The process-wide real clock (std::chrono::steady_clock and system_clock).
  static Clock& real();
};

// The real clock: steady_clock and system_clock, with condition_variable timed waits as the
// timer.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  void waitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override {
    cv.wait_until(lock, deadline);
  }
  uint64_t addWakeListener(std::function<void()>) override { return 0; }
  void removeWakeListener(uint64_t) override {}
};

// A clock that moves only when a test calls advance(), which moves monotonic and wall time by the
// same step. Waiters sleep without a timeout; advance() wakes them through their wake listeners so
// they re-check the time. The wall time starts at the real time of construction unless given, so
// that certificates issued on it are valid for real clients too.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::hours(1)),
                     WallTime wallStart = std::chrono::system_clock::now())
      : nanos_(toNanos(start)), wallStart_(wallStart), start_(start) {}

  TimePoint now() const override {
    return TimePoint(Duration(std::chrono::nanoseconds(nanos_.load())));
  }
  WallTime wallNow() const override {
    return wallStart_ + std::chrono::duration_cast<WallTime::duration>(now() - start_);
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
  const WallTime wallStart_;  // wallNow() at start_
  const TimePoint start_;
  std::mutex listenersMutex_;  // guards listeners_ and nextId_
  std::map<uint64_t, std::function<void()>> listeners_;
  uint64_t nextId_ = 1;
};

}  // namespace siteplane

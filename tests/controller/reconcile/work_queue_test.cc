#include "controller/reconcile/work_queue.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace siteplane::reconcile {
namespace {

using namespace std::chrono_literals;
using siteplane::testing::waitUntil;

TEST_CASE("WorkQueue hands out a key once however often it was added", "[controller][reconcile]") {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.add("Site/default/www");
  queue.add("Binding/default/www-https");
  queue.add("Site/default/www");
  CHECK(queue.length() == 2);
  CHECK(queue.tryGet() == "Site/default/www");
  CHECK(queue.tryGet() == "Binding/default/www-https");
  CHECK(queue.tryGet() == std::nullopt);
}

TEST_CASE("WorkQueue holds back a key added while it is processed until done()",
          "[controller][reconcile]") {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.add("a");
  REQUIRE(queue.tryGet() == "a");
  queue.add("a");
  queue.add("a");
  CHECK(queue.length() == 0);
  CHECK(queue.tryGet() == std::nullopt);  // never to a second worker while "a" is processing
  queue.done("a");
  CHECK(queue.length() == 1);
  REQUIRE(queue.tryGet() == "a");  // the change made meanwhile is not lost, and comes once
  queue.done("a");
  CHECK(queue.tryGet() == std::nullopt);
}

TEST_CASE("WorkQueue never processes one key on two workers at once and loses no add",
          "[controller][reconcile]") {
  WorkQueue queue;  // the real clock: plain add() never waits on it
  constexpr int kKeys = 8;
  constexpr int kAddsPerKey = 300;
  std::vector<std::atomic<int>> active(kKeys);
  std::vector<std::atomic<int>> added(kKeys);  // how many adds were made, bumped before add()
  std::vector<std::atomic<int>> seen(kKeys);   // the `added` value a worker observed at start
  std::atomic<bool> overlapped{false};
  std::atomic<int> processed{0};

  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        int k = std::stoi(*key);
        if (active[k].fetch_add(1) != 0) overlapped = true;
        seen[k] = added[k].load();
        std::this_thread::yield();
        active[k].fetch_sub(1);
        ++processed;
        queue.done(*key);
      }
    });
  }
  for (int round = 0; round < kAddsPerKey; ++round) {
    for (int k = 0; k < kKeys; ++k) {
      ++added[k];
      queue.add(std::to_string(k));
    }
  }
  // Every key is processed after its last add: a worker that started after the final add saw it.
  bool converged = waitUntil([&] {
    for (int k = 0; k < kKeys; ++k) {
      if (seen[k].load() != kAddsPerKey) return false;
    }
    return true;
  });
  queue.shutDown();
  for (auto& worker : workers) worker.join();
  CHECK(converged);
  CHECK_FALSE(overlapped);
  // Deduplication folded bursts: at most one reconcile per add, at least one per key.
  CHECK(processed.load() <= kKeys * kAddsPerKey);
  CHECK(processed.load() >= kKeys);
}

TEST_CASE("WorkQueue addAfter makes a key ready when the clock reaches its time",
          "[controller][reconcile]") {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.addAfter("a", 10s);
  CHECK(queue.tryGet() == std::nullopt);
  CHECK(queue.delayedCount() == 1);
  clock.advance(9s);
  CHECK(queue.tryGet() == std::nullopt);
  clock.advance(1s);
  CHECK(queue.length() == 1);
  CHECK(queue.tryGet() == "a");
  queue.done("a");
  CHECK(queue.delayedCount() == 0);

  // The earlier of two delays wins, and the key still comes once.
  queue.addAfter("b", 10s);
  queue.addAfter("b", 2s);
  queue.addAfter("b", 5s);
  clock.advance(2s);
  CHECK(queue.tryGet() == "b");
  queue.done("b");
  clock.advance(10s);
  CHECK(queue.tryGet() == std::nullopt);

  // A zero delay is a plain add.
  queue.addAfter("c", 0s);
  CHECK(queue.tryGet() == "c");
}

TEST_CASE("WorkQueue holds back a delayed key whose time came while it is processed",
          "[controller][reconcile]") {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.add("a");
  REQUIRE(queue.tryGet() == "a");
  queue.addAfter("a", 1s);  // e.g. a reconciler's requeue-after, set while it runs
  clock.advance(1s);
  CHECK(queue.length() == 0);
  CHECK(queue.tryGet() == std::nullopt);
  queue.done("a");
  CHECK(queue.length() == 1);
  CHECK(queue.tryGet() == "a");
}

TEST_CASE("WorkQueue wakes a worker blocked in get() when the clock reaches a delay",
          "[controller][reconcile]") {
  FakeClock clock;
  WorkQueue queue(clock);
  std::atomic<bool> got{false};
  std::string key;
  std::thread worker([&] {
    auto next = queue.get();
    if (next) key = *next;
    got = true;
  });
  queue.addAfter("later", 30s);
  clock.advance(29s);
  CHECK_FALSE(got.load());  // the clock has not reached the delay: nothing can be handed out
  clock.advance(1s);
  CHECK(waitUntil([&] { return got.load(); }));
  queue.shutDown();
  worker.join();
  CHECK(key == "later");
}

TEST_CASE("WorkQueue hands a key added now to the worker waiting for a later delay",
          "[controller][reconcile]") {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.addAfter("later", 1h);
  std::atomic<int> got{0};
  std::vector<std::string> keys;
  std::thread worker([&] {
    // The only worker, so it is the one that waits for the delay.
    while (auto next = queue.get()) {
      keys.push_back(*next);
      queue.done(*next);
      ++got;
    }
  });
  queue.add("now");
  CHECK(waitUntil([&] { return got.load() == 1; }));
  // An earlier delay than the one the worker sleeps until wakes it when it is due.
  queue.addAfter("sooner", 10s);
  clock.advance(10s);
  CHECK(waitUntil([&] { return got.load() == 2; }));
  queue.shutDown();
  worker.join();
  CHECK(keys == std::vector<std::string>{"now", "sooner"});
}

TEST_CASE("WorkQueue wakes workers for due delays one at a time and loses none",
          "[controller][reconcile]") {
  WorkQueue queue;
  constexpr int kKeys = 200;
  std::atomic<int> got{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w) {
    workers.emplace_back([&] {
      while (auto next = queue.get()) {
        queue.done(*next);
        ++got;
      }
    });
  }
  // Deadlines spread over 100 ms on the real clock, as periodic rechecks are.
  for (int i = 0; i < kKeys; ++i) {
    std::string key = "key";
    key += std::to_string(i);
    queue.addAfter(key, std::chrono::milliseconds(i % 100));
  }
  CHECK(waitUntil([&] { return got.load() == kKeys; }));
  queue.shutDown();
  for (auto& worker : workers) worker.join();
  CHECK(got.load() == kKeys);
}

TEST_CASE("WorkQueue backs off exponentially per key until forget()", "[controller][reconcile]") {
  FakeClock clock;
  WorkQueueOptions options;
  options.baseDelay = 1s;
  options.maxDelay = 8s;
  WorkQueue queue(clock, options);

  // Returns the delay after which addRateLimited's key became ready, in whole seconds.
  auto delayOf = [&](const std::string& key) {
    queue.addRateLimited(key);
    for (int seconds = 1; seconds <= 20; ++seconds) {
      clock.advance(1s);
      if (auto ready = queue.tryGet()) {
        queue.done(*ready);
        return *ready == key ? seconds : -1;
      }
    }
    return 0;
  };
  CHECK(delayOf("a") == 1);
  CHECK(delayOf("a") == 2);
  CHECK(delayOf("a") == 4);
  CHECK(delayOf("a") == 8);
  CHECK(delayOf("a") == 8);  // capped at maxDelay
  CHECK(queue.numRequeues("a") == 5);
  CHECK(delayOf("b") == 1);  // failures are counted per key
  queue.forget("a");
  CHECK(queue.numRequeues("a") == 0);
  CHECK(delayOf("a") == 1);
}

TEST_CASE("WorkQueue backoff saturates at maxDelay after a long failure streak",
          "[controller][reconcile]") {
  FakeClock clock;
  WorkQueueOptions options;
  options.baseDelay = 5ms;
  options.maxDelay = 60s;
  WorkQueue queue(clock, options);
  for (int failure = 0; failure < 200; ++failure) queue.addRateLimited("a");
  clock.advance(60s - 1ms);
  CHECK(queue.tryGet() == "a");  // the first failure's 5 ms delay is the earliest and wins
  queue.done("a");
  queue.addRateLimited("a");
  clock.advance(60s - 1ms);
  CHECK(queue.tryGet() == std::nullopt);
  clock.advance(1ms);
  CHECK(queue.tryGet() == "a");
}

TEST_CASE("WorkQueue shutDown wakes blocked workers and ignores later adds",
          "[controller][reconcile]") {
  FakeClock clock;
  WorkQueue queue(clock);
  std::atomic<int> stopped{0};
  std::vector<std::thread> workers;
  queue.addAfter("never", 1h);  // one worker sleeps on a delay, the others on an empty queue
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&] {
      if (!queue.get()) ++stopped;
    });
  }
  queue.shutDown();
  for (auto& worker : workers) worker.join();
  CHECK(stopped.load() == 3);
  CHECK(queue.isShuttingDown());
  queue.add("x");
  CHECK(queue.tryGet() == std::nullopt);
  CHECK(queue.get() == std::nullopt);
}

TEST_CASE("WorkQueue on the real clock hands out a delayed key no earlier than its delay",
          "[controller][reconcile]") {
  WorkQueue queue;
  auto start = std::chrono::steady_clock::now();
  queue.addAfter("a", 30ms);
  auto key = queue.get();  // blocks on the timer
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(key == "a");
  CHECK(waited >= 30ms);
}

}  // namespace
}  // namespace siteplane::reconcile

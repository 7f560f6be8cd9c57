#include "common/event_loop/event_loop_thread.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace siteplane::event_loop {
namespace {

using siteplane::testing::waitUntil;

std::unique_ptr<EventLoopThread> makeLoop() {
  auto created = EventLoopThread::create("test");
  REQUIRE(created);
  return std::move(created).value();
}

TEST_CASE("EventLoopThread runs posted tasks on its thread, in order", "[common][event_loop]") {
  auto loop = makeLoop();
  REQUIRE(loop->start());
  std::mutex mutex;
  std::vector<int> order;
  std::vector<bool> onLoop;
  for (int i = 0; i < 100; ++i) {
    REQUIRE(loop->post([&, i] {
      std::lock_guard lock(mutex);
      order.push_back(i);
      onLoop.push_back(loop->onLoopThread());
    }));
  }
  REQUIRE(waitUntil([&] {
    std::lock_guard lock(mutex);
    return order.size() == 100;
  }));
  loop->stop();
  for (int i = 0; i < 100; ++i) CHECK(order[i] == i);
  for (bool on : onLoop) CHECK(on);
  CHECK_FALSE(loop->onLoopThread());
}

TEST_CASE("EventLoopThread keeps running tasks after one throws", "[common][event_loop]") {
  auto loop = makeLoop();
  REQUIRE(loop->start());
  std::atomic<bool> ran{false};
  REQUIRE(loop->post([] { throw std::runtime_error("a task's own failure"); }));
  REQUIRE(loop->post([&] { ran = true; }));
  REQUIRE(waitUntil([&] { return ran.load(); }));
  loop->stop();
}

TEST_CASE("EventLoopThread stop closes the owner's handles on the loop's thread and joins",
          "[common][event_loop]") {
  auto loop = makeLoop();
  auto timer = UvHandle<uv_timer_t>::create(uv_timer_init, loop->loop(), nullptr);
  REQUIRE(timer);
  // A repeating timer keeps the loop alive: stop() returns only because the handle was closed.
  std::atomic<int> fired{0};
  timer->get()->data = &fired;
  uv_timer_start(
      timer->get(), [](uv_timer_t* t) { ++*static_cast<std::atomic<int>*>(t->data); }, 1, 1);
  REQUIRE(loop->start());
  REQUIRE(waitUntil([&] { return fired.load() > 0; }));
  bool closedOnLoop = false;
  loop->stop([&] {
    closedOnLoop = loop->onLoopThread();
    timer->close();
  });
  CHECK(closedOnLoop);
  CHECK_FALSE(*timer);
  // Closed: later posts are refused, and a second stop is a no-op.
  CHECK_FALSE(loop->post([] {}));
  loop->stop();
}

TEST_CASE("EventLoopThread runs the tasks posted before close and refuses later ones",
          "[common][event_loop]") {
  auto loop = makeLoop();
  REQUIRE(loop->start());
  std::atomic<int> ran{0};
  std::atomic<bool> queued{false};
  std::atomic<bool> refused{false};
  // close() from a task, with tasks behind it in the queue: they still run; a post from inside
  // the closing task after close() is refused.
  REQUIRE(loop->post([&] {
    queued = loop->post([&] { ++ran; });
    loop->close();
    refused = !loop->post([&] { ran += 100; });
  }));
  loop->join();  // the owner wound down by itself: join returns once the loop has ended
  CHECK(queued);
  CHECK(ran == 1);
  CHECK(refused);
}

TEST_CASE("EventLoopThread that never started frees what was closed and the loop",
          "[common][event_loop]") {
  // Under ASan a handle leaked or freed early here fails the test.
  auto loop = makeLoop();
  auto timer = UvHandle<uv_timer_t>::create(uv_timer_init, loop->loop(), nullptr);
  REQUIRE(timer);
  auto async =
      UvHandle<uv_async_t>::create(uv_async_init, loop->loop(), nullptr, [](uv_async_t*) {});
  REQUIRE(async);
  bool ran = false;
  CHECK(loop->post([&] { ran = true; }));
  loop->stop([&] {
    timer->close();
    async->close();
  });
  CHECK(ran);  // posted before close: run even though no thread ever ran the loop
}

TEST_CASE("UvHandle frees the handle in its close callback; a closed handle's callback never runs",
          "[common][event_loop]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  bool fired = false;
  {
    auto timer = UvHandle<uv_timer_t>::create(uv_timer_init, &loop, &fired);
    REQUIRE(timer);
    uv_timer_start(
        timer->get(), [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 0, 0);
    UvHandle<uv_timer_t> moved = std::move(timer).value();
    CHECK(moved);
    // Goes out of scope before the loop ever ran: closed, not yet freed.
  }
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);  // runs the close callback, which frees it
  CHECK_FALSE(fired);
  CHECK(uv_loop_close(&loop) == 0);  // nothing left open
}

}  // namespace
}  // namespace siteplane::event_loop

// RequestExecutor: jobs run off the loop thread, completions run on it, and a read never waits
// behind a write that is stuck.

#include "controller/apiserver/request_executor.h"

#include <uv.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using siteplane::apiserver::RequestExecutor;

namespace {

// Runs the loop until `done` or the deadline (which only bounds a hang).
bool runUntil(uv_loop_t& loop, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    uv_run(&loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

}  // namespace

TEST_CASE("RequestExecutor answers reads while a write is stuck, completions on the loop thread",
          "[apiserver][executor]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  RequestExecutor executor(&loop);
  REQUIRE(executor.start(1, 1).isOk());
  const auto loopThread = std::this_thread::get_id();

  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  std::atomic<bool> writeDone{false};
  std::atomic<int> readsDone{0};
  std::atomic<bool> offLoop{true};
  std::atomic<bool> onLoop{true};

  executor.submit(RequestExecutor::Lane::kWrite, [&] {
    std::unique_lock lock(mutex);
    released.wait(lock, [&] { return release; });
    return RequestExecutor::Completion([&] { writeDone = true; });
  });
  for (int i = 0; i < 3; ++i) {
    executor.submit(RequestExecutor::Lane::kRead, [&] {
      if (std::this_thread::get_id() == loopThread) offLoop = false;
      return RequestExecutor::Completion([&] {
        if (std::this_thread::get_id() != loopThread) onLoop = false;
        ++readsDone;
      });
    });
  }
  CHECK(runUntil(loop, [&] { return readsDone == 3; }));
  CHECK_FALSE(writeDone);
  CHECK(offLoop);
  CHECK(onLoop);

  {
    std::lock_guard lock(mutex);
    release = true;
  }
  released.notify_all();
  CHECK(runUntil(loop, [&] { return writeDone.load(); }));

  executor.stop();
  uv_run(&loop, UV_RUN_DEFAULT);  // the async handle's close
  CHECK(uv_loop_close(&loop) == 0);
}

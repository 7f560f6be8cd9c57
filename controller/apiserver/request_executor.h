#pragma once

// A few threads that run API handler calls off the API server's loop thread. A handler call may
// wait (a store write waits for its fsync; a large body takes a while to parse and validate); on
// the loop thread that would stall every other client, /healthz included. A job runs on a pool
// thread and returns its completion, which runs back on the loop thread (queue + uv_async_send),
// where the connection writes the response.
//
// Two lanes, each with its own queue and threads: reads (GET, HEAD) never wait behind writes,
// which spend most of their time in the store's fsync, so /healthz, lists and watches stay quick
// while writes queue up.
//
// Usage (on the loop's thread unless noted):
//   RequestExecutor executor(loop);
//   if (auto started = executor.start(2, 2); !started) fail(started.message());
//   executor.submit(RequestExecutor::Lane::kRead, [=] {   // a pool thread
//     auto reply = std::make_shared<ApiReply>(handler.handle(request));
//     return [=] { connection.finish(*reply); };  // back on the loop thread
//   });
//   executor.stop();  // joins the pool; jobs that did not start and completions not yet run are
//                     // dropped; closes the async handle
//
// Jobs of a lane start in submission order; they may finish in any order, so a caller that needs
// ordering (one connection's requests) submits its next job only after the previous completion
// ran.

#include <uv.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "common/event_loop/handle.h"
#include "common/sized_thread.h"
#include "common/status.h"

namespace siteplane::apiserver {

class RequestExecutor {
 public:
  enum class Lane { kRead, kWrite };
  using Completion = std::function<void()>;
  // Runs on a pool thread; must not throw (an escaping exception is logged and the job dropped).
  using Job = std::function<Completion()>;

  explicit RequestExecutor(uv_loop_t* loop) : loop_(loop) {}
  // Precondition: stop() ran, or start() never succeeded.
  ~RequestExecutor();
  RequestExecutor(const RequestExecutor&) = delete;
  RequestExecutor& operator=(const RequestExecutor&) = delete;

  // Registers the async handle on the loop and starts the threads of each lane (at least one).
  Status start(unsigned readThreads, unsigned writeThreads);
  void submit(Lane lane, Job job);
  // Idempotent. After it returns no completion runs and the loop may close.
  void stop();

 private:
  static void onAsync(uv_async_t* async) noexcept;
  void work(Lane lane) noexcept;

  uv_loop_t* loop_;
  event_loop::UvHandle<uv_async_t> async_;
  bool started_ = false;
  bool stopped_ = false;
  std::vector<SizedThread> threads_;

  std::mutex mutex_;                             // guards everything below
  std::array<std::condition_variable, 2> wake_;  // by lane
  std::array<std::deque<Job>, 2> jobs_;          // by lane
  std::deque<Completion> completions_;
  bool stopping_ = false;
};

}  // namespace siteplane::apiserver

#include "controller/apiserver/request_executor.h"

#include <cassert>
#include <exception>
#include <string>
#include <utility>

#include "common/logging.h"

namespace siteplane::apiserver {

RequestExecutor::~RequestExecutor() {
  // stop() joins the threads and closes the handle on the loop's thread; a destructor running
  // without it would leave threads touching a freed object.
  assert(!started_ || stopped_);
}

Status RequestExecutor::start(unsigned readThreads, unsigned writeThreads) {
  auto async = event_loop::UvHandle<uv_async_t>::create(uv_async_init, loop_, this,
                                                        &RequestExecutor::onAsync);
  if (!async) return async.status().withContext("API request executor");
  async_ = std::move(async).value();
  started_ = true;
  // The pool threads decode, patch and encode client JSON, nested up to kMaxJsonDepth levels by
  // recursive code: their stack is sized for that, not left to RLIMIT_STACK.
  auto startLane = [this](Lane lane, unsigned count) -> Status {
    for (unsigned i = 0; i < std::max(1u, count); ++i) {
      auto thread = SizedThread::start(kDeepJsonStackBytes, [this, lane] { work(lane); });
      if (!thread) return thread.status().withContext("API request executor");
      threads_.push_back(std::move(thread).value());
    }
    return Status::ok();
  };
  for (auto [lane, count] : {std::pair{Lane::kRead, readThreads}, {Lane::kWrite, writeThreads}}) {
    if (auto started = startLane(lane, count); !started) {
      stop();
      return started;
    }
  }
  return Status::ok();
}

void RequestExecutor::submit(Lane lane, Job job) {
  auto index = static_cast<size_t>(lane);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_[index].push_back(std::move(job));
  }
  wake_[index].notify_one();
}

void RequestExecutor::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& jobs : jobs_) jobs.clear();
  }
  for (auto& wake : wake_) wake.notify_all();
  // A thread in the middle of a handler call finishes it first (a store write completes; its
  // response has nowhere to go). After the joins nothing calls uv_async_send, so the handle may
  // close.
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  {
    std::lock_guard lock(mutex_);
    completions_.clear();
  }
  async_.close();
}

void RequestExecutor::work(Lane lane) noexcept {
  auto index = static_cast<size_t>(lane);
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_[index].wait(lock, [this, index] { return stopping_ || !jobs_[index].empty(); });
      if (stopping_) return;
      job = std::move(jobs_[index].front());
      jobs_[index].pop_front();
    }
    Completion completion;
    try {
      completion = job();
    } catch (const std::exception& error) {
      logger("controller.apiserver")->error("api_job_failed error=\"{}\"", error.what());
    }
    if (!completion) continue;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      completions_.push_back(std::move(completion));
    }
    uv_async_send(async_.get());
  }
}

void RequestExecutor::onAsync(uv_async_t* async) noexcept {
  auto* self = static_cast<RequestExecutor*>(async->data);
  std::deque<Completion> ready;
  {
    std::lock_guard lock(self->mutex_);
    ready.swap(self->completions_);
  }
  for (auto& completion : ready) {
    try {
      completion();
    } catch (const std::exception& error) {
      logger("controller.apiserver")->error("api_completion_failed error=\"{}\"", error.what());
    }
  }
}

}  // namespace siteplane::apiserver

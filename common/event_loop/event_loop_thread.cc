#include "common/event_loop/event_loop_thread.h"

#include <pthread.h>
#include <signal.h>

#include <exception>

#include "common/logging.h"

namespace siteplane::event_loop {
namespace {

const std::shared_ptr<spdlog::logger>& log() {
  static auto instance = logger("event_loop");
  return instance;
}

}  // namespace

Result<std::unique_ptr<EventLoopThread>> EventLoopThread::create(std::string name) {
  std::unique_ptr<EventLoopThread> thread(new EventLoopThread(std::move(name)));
  if (int rc = uv_loop_init(&thread->loop_); rc != 0)
    return uvError("uv_loop_init", rc).withContext(thread->name_ + " loop");
  thread->loopInitialised_ = true;
  auto handle = UvHandle<uv_async_t>::create(uv_async_init, &thread->loop_, thread.get(),
                                             &EventLoopThread::onTasks);
  if (!handle) return handle.status().withContext(thread->name_ + " loop");
  thread->tasksHandle_ = std::move(handle).value();
  return thread;
}

EventLoopThread::~EventLoopThread() {
  if (!loopInitialised_) return;
  stop();
  // Close callbacks of handles closed after the thread ended (their memory) run here.
  uv_run(&loop_, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop_) == UV_EBUSY) {
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void* name) {
          if (!uv_is_closing(handle))
            log()->error("loop_handle_left_open loop={} type={}", *static_cast<std::string*>(name),
                         uv_handle_type_name(uv_handle_get_type(handle)));
        },
        const_cast<std::string*>(&name_));
  }
}

Status EventLoopThread::start() {
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::exception& error) {
    return Status::error(name_ + " loop: cannot start its thread: " + error.what());
  }
  return Status::ok();
}

void EventLoopThread::run() noexcept {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  uv_run(&loop_, UV_RUN_DEFAULT);
  log()->debug("loop_ended loop={}", name_);
}

bool EventLoopThread::post(Task task) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  tasks_.push_back(std::move(task));
  // Under the lock, so that close() cannot close the handle in between. uv_async_send coalesces:
  // many posts before the loop wakes cost one wake-up.
  uv_async_send(tasksHandle_.get());
  return true;
}

void EventLoopThread::onTasks(uv_async_t* async) noexcept {
  auto* self = static_cast<EventLoopThread*>(async->data);
  std::deque<Task> tasks;
  {
    std::lock_guard lock(self->mutex_);
    tasks.swap(self->tasks_);
  }
  self->runTasks(std::move(tasks));
}

void EventLoopThread::runTasks(std::deque<Task> tasks) noexcept {
  for (auto& task : tasks) {
    try {
      task();
    } catch (const std::exception& error) {
      log()->error("loop_task_failed loop={} error=\"{}\"", name_, error.what());
    } catch (...) {
      log()->error("loop_task_failed loop={}", name_);
    }
  }
}

void EventLoopThread::close() {
  std::deque<Task> rest;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    rest.swap(tasks_);
  }
  runTasks(std::move(rest));
  tasksHandle_.close();
}

void EventLoopThread::stop(Task closeHandles) {
  auto closeAll = [this, closeHandles = std::move(closeHandles)] {
    if (closeHandles) closeHandles();
    close();
  };
  if (!thread_.joinable()) {
    // Not running (never started, or already joined): this thread may touch the loop.
    if (!tasksHandle_) return;
    closeAll();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return;
  }
  // Refused only when close() already ran; then the owner winds down by itself and join() waits.
  post(closeAll);
  join();
}

void EventLoopThread::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace siteplane::event_loop

#pragma once

// A thread that runs one libuv loop: the substrate of every loop in siteplane (the data plane's
// workers, the API server, the manifest source, the file watcher).
//
//   auto loop = EventLoopThread::create("api");          // uv_loop_init + the task handle, checked
//   auto timer = UvHandle<uv_timer_t>::create(uv_timer_init, loop->loop(), this);
//   loop->start();                                        // the thread runs the loop
//   loop->post([this] { ... });                           // from any thread: runs on the loop's
//   loop->stop([this] { timer.close(); ... });            // closes the owner's handles there, then
//                                                        // the loop's own, and joins
//
// The loop runs until nothing is left in it: the owner closes its handles and calls close() (which
// stop() does for it), and uv_run returns once the close callbacks ran. An owner that winds down
// over time (a worker draining its connections) calls close() from the loop's thread when it is
// done, and join() waits for that. SIGPIPE is blocked on the thread, so a peer that reset its
// connection makes a write fail with EPIPE instead of ending the process.

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/event_loop/handle.h"
#include "common/status.h"

namespace siteplane::event_loop {

class EventLoopThread {
 public:
  using Task = std::function<void()>;

  // Initialises the loop and the handle post() signals; the thread starts with start(). `name`
  // names the thread (first 15 characters, as `top -H` shows them).
  static Result<std::unique_ptr<EventLoopThread>> create(std::string name);
  // Joins a running loop after asking it to close (which returns only once its owner's handles are
  // closed). The owner's handles closed after the loop ended are freed here; one left open is
  // logged, and the loop is then not closed (its memory stays, rather than be freed under it).
  ~EventLoopThread();
  EventLoopThread(const EventLoopThread&) = delete;
  EventLoopThread& operator=(const EventLoopThread&) = delete;

  uv_loop_t* loop() { return &loop_; }

  Status start();
  // Any thread. Runs `task` on the loop's thread, tasks in the order they were posted; false (and
  // the task dropped) once close() ran. A task that throws is logged, and the next one runs.
  bool post(Task task);
  // The loop's thread only. Runs the tasks already posted, refuses later ones and closes the
  // loop's own handle: the loop ends when its owner's handles are closed as well.
  void close();
  // Any other thread. Runs `closeHandles` and close() on the loop's thread, then joins. When the
  // thread never started, runs them here. Idempotent.
  void stop(Task closeHandles = {});
  // Any other thread: waits until the loop has ended (after close()).
  void join();
  // True on the loop's own thread (assertions; a caller that may be either).
  bool onLoopThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  explicit EventLoopThread(std::string name) : name_(std::move(name)) {}
  static void onTasks(uv_async_t* async) noexcept;
  void runTasks(std::deque<Task> tasks) noexcept;
  void run() noexcept;

  const std::string name_;
  uv_loop_t loop_{};
  bool loopInitialised_ = false;
  UvHandle<uv_async_t> tasksHandle_;
  std::thread thread_;

  std::mutex mutex_;  // guards tasks_ and closed_
  std::deque<Task> tasks_;
  bool closed_ = false;
};

}  // namespace siteplane::event_loop

#pragma once

// One worker: a thread running a libuv loop, its share of every listener (one SO_REUSEPORT socket
// per address family) and the connections it accepted. Everything here but post*/collect runs on
// the worker's own thread; other threads talk to it through a queue and uv_async_send.

#include <uv.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/event_loop/event_loop_thread.h"
#include "dataplane/http/access_log.h"
#include "dataplane/http/response.h"
#include "dataplane/loop/data_plane.h"
#include "dataplane/loop/listener_socket.h"
#include "dataplane/loop/stream.h"
#include "dataplane/static/static_handler.h"

namespace siteplane::loop {

class AddressLimiter;
class HttpConnection;
class Worker;

// One table publication on its way to every worker.
struct Publication {
  struct Opened {
    table::ListenerKey key;
    ListenerSockets sockets;  // each worker takes its own descriptors
  };
  std::shared_ptr<const table::BindingTable> table;
  std::vector<Opened> opened;
  std::vector<table::ListenerKey> removed;
  table::PublishReport report;
  std::function<void(const table::PublishReport&)> onApplied;
  std::atomic<unsigned> remaining{0};
};

// A worker's share of one listener.
struct WorkerListener {
  Worker* worker = nullptr;
  table::ListenerKey key;
  std::vector<event_loop::UvHandle<uv_tcp_t>> handles;
  bool removed = false;
};

class WorkerStats {
 public:
  std::atomic<uint64_t> active{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> handshakes{0};
  std::atomic<uint64_t> resumed{0};
  std::atomic<uint64_t> requests{0};

  void countRequest(const std::string& site, int status);
  void countHandshakeFailure(const std::string& reason);
  void addTo(Stats& stats) const;

 private:
  mutable std::mutex mutex_;  // guards the maps; uncontended but for stats() readers
  std::unordered_map<std::string, std::array<uint64_t, 5>> bySite_;
  std::unordered_map<std::string, uint64_t> failures_;
};

class Worker {
 public:
  Worker(DataPlane& owner, unsigned index, const DataPlaneOptions& options,
         const http::AccessLog& accessLog);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the loop and starts its thread.
  Status start();
  // Any thread.
  void post(std::shared_ptr<Publication> publication);
  void postStop(std::chrono::milliseconds drain);
  void join();
  const WorkerStats& stats() const { return stats_; }

  // Loop thread only.
  unsigned index() const { return index_; }
  uv_loop_t* loop() { return thread_->loop(); }
  const std::shared_ptr<const table::BindingTable>& table() const { return table_; }
  const Limits& limits() const { return options_.limits; }
  std::chrono::milliseconds drainTimeout() const { return options_.drainTimeout; }
  const http::AccessLog& accessLog() const { return accessLog_; }
  const table::ChallengeAnswers* challenges() const { return options_.challenges.get(); }
  WorkerStats& mutableStats() { return stats_; }
  // Process-wide: every worker counts into the same one (any thread may call it).
  AddressLimiter& addressLimiter();
  StreamBuffers& buffers() { return buffers_; }
  http::HttpDate& date() { return date_; }
  staticfiles::StaticHandler& staticHandler() { return staticHandler_; }
  // Scratch for response header lines; reused, never shrunk (one per worker).
  std::string& headerScratch() { return headerScratch_; }
  // Scratch for reading file bodies, separate from StreamBuffers: a body may be produced while
  // the stream's plaintext buffer still holds pipelined requests being parsed.
  std::array<char, 64 * 1024>& fileBuffer() { return fileBuffer_; }
  bool stopping() const { return stopping_; }
  // Called by a connection from its close callback; frees it.
  void release(HttpConnection* connection);
  // A connection that must be gone by deadlineMs (uv_now scale) if it is not closed by then.
  void scheduleDrainDeadline(uint64_t deadlineMs);

 private:
  static void onConnection(uv_stream_t* server, int status) noexcept;
  static void onDrainTimer(uv_timer_t* timer) noexcept;
  void receive(Publication& publication);
  void countIn(Publication& publication);
  void apply(Publication& publication);
  void openListener(Publication::Opened& opened);
  void closeListener(WorkerListener& listener);
  void accept(uv_stream_t* server, const std::shared_ptr<WorkerListener>& listener);
  void acceptDeferred();
  void beginStop(std::chrono::milliseconds drain);
  void maybeFinishStop();

  DataPlane& owner_;
  unsigned index_;
  DataPlaneOptions options_;
  const http::AccessLog& accessLog_;
  // Declared before every handle of the loop, so that it is destroyed after them: a handle that
  // is still open then is closed and freed by the loop's last run.
  std::unique_ptr<event_loop::EventLoopThread> thread_;
  event_loop::UvHandle<uv_timer_t> drainTimer_;

  std::shared_ptr<const table::BindingTable> table_;
  std::unordered_map<table::ListenerKey, std::shared_ptr<WorkerListener>, table::ListenerKeyHash>
      listeners_;
  std::list<std::unique_ptr<HttpConnection>> connections_;
  std::vector<std::pair<uv_stream_t*, std::shared_ptr<WorkerListener>>> deferred_;
  uint64_t nextConnectionId_;
  uint64_t drainDeadline_ = 0;  // earliest pending deadline, 0: none
  bool stopping_ = false;
  bool stopped_ = false;
  StreamBuffers buffers_;
  http::HttpDate date_;
  staticfiles::StaticHandler staticHandler_;
  std::string headerScratch_;
  std::array<char, 64 * 1024> fileBuffer_;
  WorkerStats stats_;
};

}  // namespace siteplane::loop

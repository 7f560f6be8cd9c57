#include "dataplane/loop/worker.h"

#include <unistd.h>

#include "common/logging.h"
#include "dataplane/loop/address_limiter.h"
#include "dataplane/loop/http_connection.h"

namespace siteplane::loop {
namespace {

const std::shared_ptr<spdlog::logger>& log() {
  static auto instance = logger("dataplane.loop");
  return instance;
}

int statusClass(int status) {
  int index = status / 100 - 1;
  return index < 0 ? 0 : index > 4 ? 4 : index;
}

}  // namespace

void WorkerStats::countRequest(const std::string& site, int status) {
  std::lock_guard lock(mutex_);
  auto it = bySite_.find(site);
  if (it == bySite_.end()) it = bySite_.emplace(site, std::array<uint64_t, 5>{}).first;
  ++it->second[statusClass(status)];
}

void WorkerStats::countHandshakeFailure(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++failures_[reason];
}

void WorkerStats::addTo(Stats& stats) const {
  stats.activeConnections += active.load(std::memory_order_relaxed);
  stats.acceptedConnections += accepted.load(std::memory_order_relaxed);
  stats.refusedConnections += refused.load(std::memory_order_relaxed);
  stats.handshakes += handshakes.load(std::memory_order_relaxed);
  stats.resumedHandshakes += resumed.load(std::memory_order_relaxed);
  stats.requests += requests.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  for (const auto& [site, counts] : bySite_) {
    auto& total = stats.requestsBySite[site];
    for (size_t i = 0; i < counts.size(); ++i) total[i] += counts[i];
  }
  for (const auto& [reason, count] : failures_) stats.handshakeFailures[reason] += count;
}

Worker::Worker(DataPlane& owner, unsigned index, const DataPlaneOptions& options,
               const http::AccessLog& accessLog)
    : owner_(owner),
      index_(index),
      options_(options),
      accessLog_(accessLog),
      // Connection ids are unique across workers: the worker index in the top bits.
      nextConnectionId_((static_cast<uint64_t>(index) << 48) + 1) {}

Worker::~Worker() {
  // A worker that ran was stopped by the data plane, and this joins it. One that never started
  // runs what was posted to it here, while its members still exist.
  if (thread_) thread_->stop();
}

Status Worker::start() {
  auto thread = event_loop::EventLoopThread::create("worker-" + std::to_string(index_));
  if (!thread) return thread.status();
  auto timer = event_loop::UvHandle<uv_timer_t>::create(uv_timer_init, (*thread)->loop(), this);
  if (!timer) return timer.status().withContext("worker " + std::to_string(index_));
  thread_ = std::move(thread).value();
  drainTimer_ = std::move(timer).value();
  return thread_->start();
}

AddressLimiter& Worker::addressLimiter() { return *owner_.addressLimiter_; }

void Worker::join() {
  if (thread_) thread_->join();
}

void Worker::post(std::shared_ptr<Publication> publication) {
  if (thread_ && thread_->post([this, publication] { receive(*publication); })) return;
  // This worker is gone (stopped, or it never started): it has nothing to apply, but the
  // publisher still waits for every worker to count in.
  countIn(*publication);
}

void Worker::postStop(std::chrono::milliseconds drain) {
  if (!thread_) return;
  thread_->post([this, drain] {
    if (!stopping_) beginStop(drain);
  });
}

void Worker::receive(Publication& publication) {
  // While draining for a stop, nothing new is applied; the worker still counts in.
  if (stopping_) {
    countIn(publication);
    return;
  }
  apply(publication);
}

void Worker::countIn(Publication& publication) {
  if (publication.remaining.fetch_sub(1) != 1) return;
  owner_.applied(publication.table, publication.report);
  if (!publication.onApplied) return;
  try {
    publication.onApplied(publication.report);
  } catch (...) {
    log()->error("publish_callback_threw generation={}", publication.report.generation);
  }
}

void Worker::apply(Publication& publication) {
  for (auto& opened : publication.opened) openListener(opened);
  const uint64_t deadline = uv_now(loop()) + static_cast<uint64_t>(options_.drainTimeout.count());
  for (const auto& key : publication.removed) {
    auto it = listeners_.find(key);
    if (it == listeners_.end()) continue;
    closeListener(*it->second);
    listeners_.erase(it);
  }
  // Keep the previous table alive while connections translate their routes into the new one.
  std::shared_ptr<const table::BindingTable> previous = std::move(table_);
  table_ = publication.table;
  for (auto& connection : connections_) {
    if (connection->listener().removed) {
      connection->drain(deadline, previous);
    } else {
      connection->onTableSwapped(previous, *table_);
    }
  }
  previous.reset();
  log()->debug("table_applied worker={} generation={} connections={}", index_,
               table_ ? table_->generation() : 0, connections_.size());
  countIn(publication);
}

void Worker::openListener(Publication::Opened& opened) {
  std::vector<int> fds = opened.sockets.take(index_);
  auto listener = std::make_shared<WorkerListener>();
  listener->worker = this;
  listener->key = opened.key;
  for (int fd : fds) {
    auto handle = event_loop::UvHandle<uv_tcp_t>::create(uv_tcp_init, loop(), listener.get());
    int rc = handle ? uv_tcp_open(handle->get(), fd) : UV_ENOMEM;
    if (rc == 0) rc = uv_listen(handle->stream(), 1024, &Worker::onConnection);
    if (rc != 0) {
      // The socket was bound and listening when the publisher checked it; this only fails when
      // the process is out of resources. The other workers still serve the listener.
      log()->error("listener_open_failed worker={} address={} port={} error={}", index_,
                   opened.key.address, opened.key.port, uv_strerror(rc));
      if (!handle || uv_fileno(handle->base(), nullptr) != 0) ::close(fd);
      continue;  // the handle closes as it goes out of scope
    }
    listener->handles.push_back(std::move(handle).value());
  }
  listeners_[opened.key] = std::move(listener);
}

void Worker::closeListener(WorkerListener& listener) {
  listener.removed = true;
  for (auto& handle : listener.handles) {
    std::erase_if(deferred_,
                  [&handle](const auto& entry) { return entry.first == handle.stream(); });
    handle.close();
  }
  listener.handles.clear();
}

void Worker::onConnection(uv_stream_t* server, int status) noexcept {
  auto* listener = static_cast<WorkerListener*>(server->data);
  Worker* self = listener->worker;
  if (status < 0) {
    log()->warn("accept_error worker={} error={}", self->index_, uv_strerror(status));
    return;
  }
  auto it = self->listeners_.find(listener->key);
  if (it == self->listeners_.end() || it->second.get() != listener) return;
  if (self->connections_.size() >= self->options_.limits.maxConnectionsPerWorker) {
    // Back-pressure: leaving the connection unaccepted makes libuv stop polling this socket, so
    // new clients wait in the kernel backlog until a connection closes (acceptDeferred).
    self->deferred_.emplace_back(server, it->second);
    return;
  }
  self->accept(server, it->second);
}

void Worker::accept(uv_stream_t* server, const std::shared_ptr<WorkerListener>& listener) {
  HttpConnection* raw = nullptr;
  try {
    connections_.push_front(std::make_unique<HttpConnection>(*this, listener, nextConnectionId_++));
    raw = connections_.front().get();
  } catch (...) {
    // Out of memory: leave the connection in the backlog; libuv retries on the next readiness.
    log()->error("accept_out_of_memory worker={}", index_);
    return;
  }
  raw->position = connections_.begin();
  raw->begin(server);
}

void Worker::acceptDeferred() {
  while (!deferred_.empty() && connections_.size() < options_.limits.maxConnectionsPerWorker &&
         !stopping_) {
    auto [server, listener] = deferred_.back();
    deferred_.pop_back();
    if (!listener->removed) accept(server, listener);
  }
}

void Worker::release(HttpConnection* connection) {
  connections_.erase(connection->position);
  if (!deferred_.empty()) acceptDeferred();
  if (stopping_) maybeFinishStop();
}

void Worker::scheduleDrainDeadline(uint64_t deadlineMs) {
  if (drainDeadline_ != 0 && drainDeadline_ <= deadlineMs) return;
  drainDeadline_ = deadlineMs;
  uint64_t now = uv_now(loop());
  uv_timer_start(drainTimer_.get(), &Worker::onDrainTimer, deadlineMs > now ? deadlineMs - now : 0,
                 0);
}

void Worker::onDrainTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Worker*>(timer->data);
  uint64_t now = uv_now(self->loop());
  uint64_t next = 0;
  self->drainDeadline_ = 0;
  for (auto& connection : self->connections_) {
    uint64_t deadline = connection->drainDeadline();
    if (deadline == 0) continue;
    if (deadline <= now) {
      log()->debug("drain_timeout worker={}", self->index_);
      connection->abort();
    } else if (next == 0 || deadline < next) {
      next = deadline;
    }
  }
  if (next != 0) self->scheduleDrainDeadline(next);
}

void Worker::beginStop(std::chrono::milliseconds drain) {
  stopping_ = true;
  for (auto& [key, listener] : listeners_) closeListener(*listener);
  listeners_.clear();
  deferred_.clear();
  const uint64_t deadline = uv_now(loop()) + static_cast<uint64_t>(drain.count());
  for (auto& connection : connections_) connection->drain(deadline);
  maybeFinishStop();
}

void Worker::maybeFinishStop() {
  if (stopped_ || !connections_.empty()) return;
  stopped_ = true;
  drainTimer_.close();
  table_.reset();
  // Publications posted before this still run (and count in); the loop ends with this.
  thread_->close();
}

}  // namespace siteplane::loop

#pragma once

// One running watch (`?watch=1`): a store subscription whose events, filtered and encoded as
// Kubernetes watch events (`{"type":"ADDED","object":{...}}` one per line), go to a sink the
// transport provides. Events that arrive before the transport attaches its sink are buffered, so
// nothing between the list the watch starts from and the live stream is lost.

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "controller/store/event_dispatcher.h"

namespace siteplane::apiserver {

// Where a watch writes. Implemented by the transport (and by tests).
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // One encoded event, newline-terminated. Called from store threads: implementations must be
  // thread-safe and must not block (queue the bytes and wake the connection's loop).
  virtual void write(std::string chunk) = 0;
};

class WatchStream {
 public:
  explicit WatchStream(std::chrono::seconds timeout) : timeout_(timeout) {}
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // Attaches the sink and flushes buffered events to it. Precondition: called at most once.
  void start(std::shared_ptr<WatchSink> sink);
  // Stops the subscription: after it returns no more events are written (the transport calls it
  // when the client disconnects or the timeout passes). Idempotent.
  void cancel();
  // How long the watch runs before the server ends it (timeoutSeconds); zero means no limit.
  std::chrono::seconds timeout() const { return timeout_; }

  // Used by the handler: queues or writes one encoded event, and installs the subscription.
  void push(std::string chunk);
  void adopt(store::Subscription subscription);

 private:
  const std::chrono::seconds timeout_;
  std::mutex mutex_;  // guards everything below
  std::shared_ptr<WatchSink> sink_;
  std::deque<std::string> pending_;
  store::Subscription subscription_;
  bool cancelled_ = false;
};

}  // namespace siteplane::apiserver

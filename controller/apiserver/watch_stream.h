#pragma once

// One running watch (`?watch=1`): a store subscription whose events, filtered and encoded as
// Kubernetes watch events (`{"type":"ADDED","object":{...}}` one per line), go to a sink the
// transport provides. Events that arrive before the transport attaches its sink are buffered, so
// nothing between the list the watch starts from and the live stream is lost.
//
// With bookmarks (allowWatchBookmarks=true) the transport calls pushBookmark() periodically: a
// BOOKMARK event carrying the resourceVersion up to which every store event has been sent or
// found not to match, so a client that sees nothing (a narrow selector) can still resume from a
// recent resourceVersion instead of an expired one.

#include <chrono>
#include <cstdint>
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

  // Used by the handler: queues or writes one encoded event (none when `chunk` is empty: the
  // event did not match) and records that the stream is complete up to `resourceVersion`
  // (0: unchanged); and installs the subscription.
  void push(std::string chunk, uint64_t resourceVersion = 0);
  void adopt(store::Subscription subscription);

  // Turns bookmarks on: `encode` renders a BOOKMARK event at a resourceVersion. Precondition:
  // called before start() and adopt(), at most once; `from` is where the watch starts.
  void enableBookmarks(std::function<std::string(uint64_t)> encode, uint64_t from);
  bool bookmarks() const { return static_cast<bool>(encodeBookmark_); }
  // Sends a BOOKMARK at the resourceVersion reached so far (no-op without bookmarks). Called by
  // the transport; ordered with the events, so a bookmark never claims an event not yet sent.
  void pushBookmark();

 private:
  const std::chrono::seconds timeout_;
  std::function<std::string(uint64_t)> encodeBookmark_;  // set once, before the stream is shared
  std::mutex mutex_;                                     // guards everything below
  uint64_t resourceVersion_ = 0;  // every event up to here is pushed or filtered out
  std::shared_ptr<WatchSink> sink_;
  std::deque<std::string> pending_;
  store::Subscription subscription_;
  bool cancelled_ = false;
};

}  // namespace siteplane::apiserver

#include "controller/apiserver/watch_stream.h"

#include <algorithm>

namespace siteplane::apiserver {

void WatchStream::start(std::shared_ptr<WatchSink> sink) {
  std::lock_guard lock(mutex_);
  if (cancelled_) return;
  sink_ = std::move(sink);
  while (!pending_.empty()) {
    sink_->write(std::move(pending_.front()));
    pending_.pop_front();
  }
}

void WatchStream::push(std::string chunk, uint64_t resourceVersion) {
  std::lock_guard lock(mutex_);
  if (cancelled_) return;
  resourceVersion_ = std::max(resourceVersion_, resourceVersion);
  if (chunk.empty()) return;
  // Written under the lock so that events reach the sink in the order the store delivered them.
  if (sink_) {
    sink_->write(std::move(chunk));
  } else {
    pending_.push_back(std::move(chunk));
  }
}

void WatchStream::enableBookmarks(std::function<std::string(uint64_t)> encode, uint64_t from) {
  encodeBookmark_ = std::move(encode);
  std::lock_guard lock(mutex_);
  resourceVersion_ = std::max(resourceVersion_, from);
}

void WatchStream::pushBookmark() {
  if (!encodeBookmark_) return;
  std::lock_guard lock(mutex_);
  // Only once the transport attached its sink: before that the stream has not even begun.
  if (cancelled_ || !sink_) return;
  sink_->write(encodeBookmark_(resourceVersion_));
}

void WatchStream::adopt(store::Subscription subscription) {
  {
    std::lock_guard lock(mutex_);
    if (!cancelled_) {
      subscription_ = std::move(subscription);
      return;
    }
  }
  // Already cancelled: stop it outside the lock (see cancel()).
  subscription.cancel();
}

void WatchStream::cancel() {
  store::Subscription subscription;
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    sink_.reset();
    pending_.clear();
    subscription = std::move(subscription_);
  }
  // Cancelled outside the lock: cancel() waits for a running callback, which may be blocked in
  // push() on this mutex.
  subscription.cancel();
}

}  // namespace siteplane::apiserver

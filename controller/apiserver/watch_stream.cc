#include "controller/apiserver/watch_stream.h"

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

void WatchStream::push(std::string chunk) {
  std::lock_guard lock(mutex_);
  if (cancelled_) return;
  // Written under the lock so that events reach the sink in the order the store delivered them.
  if (sink_) {
    sink_->write(std::move(chunk));
  } else {
    pending_.push_back(std::move(chunk));
  }
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

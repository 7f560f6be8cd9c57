#pragma once

// Group commit, as databases do it: many threads each need their own write made durable; the
// thread that finds no commit in progress commits every request queued by then (its own
// included), and threads that queue meanwhile wait for the next commit, which includes theirs. One
// sync then serves every waiting writer instead of each waiting for the others' syncs in turn.
// The object store and the certificate store commit this way.

#include <condition_variable>
#include <mutex>
#include <vector>

namespace siteplane {

// `Request` is the caller's description of its write and where its result goes. It must have a
// `bool committed` member, initially false, which only the GroupCommit touches (under its lock).
template <typename Request>
class GroupCommit {
 public:
  // Queues `request` and returns once a commit that included it has run. `commit` receives every
  // queued request, in queue order, on the thread of one of their callers; two commits never run
  // at once. `commit` must not throw: the other callers of its group wait for its results.
  template <typename Commit>
  void submit(Request& request, Commit&& commit) {
    std::unique_lock lock(mutex_);
    pending_.push_back(&request);
    while (!request.committed) {
      if (committing_) {
        committed_.wait(lock);
        continue;
      }
      committing_ = true;
      std::vector<Request*> group;
      group.swap(pending_);
      lock.unlock();
      commit(static_cast<const std::vector<Request*>&>(group));
      lock.lock();
      for (Request* member : group) member->committed = true;
      committing_ = false;
      committed_.notify_all();
    }
  }

  // Requests queued and not yet taken by a commit (a running commit's own are no longer queued).
  size_t queued() {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

 private:
  std::mutex mutex_;  // guards pending_, committing_ and every queued Request::committed
  std::condition_variable committed_;
  std::vector<Request*> pending_;
  bool committing_ = false;
};

}  // namespace siteplane

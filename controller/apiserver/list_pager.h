#pragma once

// `?limit=` and `?continue=` for lists, with Kubernetes semantics: a list with a limit returns at
// most that many items and, when more remain, `metadata.continue`; the next request with that
// token returns the next items of the same consistent snapshot (nothing created, changed or
// deleted after the first page shows up in later pages), at the first page's resourceVersion.
//
// The store keeps no old versions to list from, so the pager keeps the snapshot itself: the first
// page's matching objects (shared, immutable ObjectPtrs; no copies). Snapshots are bounded in
// number and age; a token whose snapshot is gone gets 410 Expired, as Kubernetes answers once
// etcd compacted the revision, and the client lists again from the start.
//
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controller/apiserver/api_error.h"
#include "controller/store/watch_event.h"

namespace siteplane::apiserver {

struct ListPage {
  std::vector<store::ObjectPtr> items;
  uint64_t resourceVersion = 0;  // of the snapshot the page comes from
  std::string continueToken;     // empty: this is the last page
  size_t remainingItemCount = 0;
};

class ListPager {
 public:
  using TimePoint = Clock::TimePoint;

  struct Options {
    size_t maxSnapshots = 64;             // the oldest is dropped beyond this
    std::chrono::seconds maxAge{5 * 60};  // a snapshot older than this is dropped
  };

  ListPager() : ListPager(Options{}) {}
  explicit ListPager(Options options) : options_(options) {}

  // The first page of `items` (everything the list matched, in list order, at
  // `resourceVersion`). `query` names the list (resource, namespace, selectors): a continue token
  // is good only for the same query. limit 0 means no limit.
  ListPage first(std::vector<store::ObjectPtr> items, uint64_t resourceVersion,
                 const std::string& query, size_t limit, TimePoint now = Clock::real().now());

  // The page after the one that returned `token`, into `out`. The error to answer instead:
  // 410 Expired when its snapshot is gone, 400 for a malformed token or one issued for another
  // query.
  std::optional<ApiError> next(const std::string& token, const std::string& query, size_t limit,
                               ListPage& out, TimePoint now = Clock::real().now());

  size_t snapshots() const;

 private:
  struct Snapshot {
    std::vector<store::ObjectPtr> items;
    uint64_t resourceVersion = 0;
    std::string query;
    TimePoint created;
  };

  // Precondition: mutex_ held.
  void expire(TimePoint now);
  ListPage page(uint64_t id, Snapshot& snapshot, size_t offset, size_t limit);

  const Options options_;
  mutable std::mutex mutex_;                // guards everything below
  std::map<uint64_t, Snapshot> snapshots_;  // by id, ascending = oldest first
  uint64_t nextId_ = 1;
};

}  // namespace siteplane::apiserver

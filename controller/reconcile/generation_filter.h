#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "controller/store/watch_event.h"

namespace siteplane::reconcile {

// Decides whether a watch event asks the object's own reconciler to look again: a creation, a
// deletion, or a change of metadata.generation (the spec). A change that leaves the generation
// alone is a status write (most often the reconciler's own) or a label edit, neither of which
// changes what the reconciler would do, so skipping it is what keeps a status write from
// triggering a reconcile that writes nothing. Thread-safe.
class GenerationFilter {
 public:
  // True when `event` should queue its own key. Records the generation seen.
  bool changed(const store::WatchEvent& event);

 private:
  std::mutex mutex_;                               // guards seen_
  std::unordered_map<std::string, int64_t> seen_;  // ObjectKey::toString() -> generation
};

}  // namespace siteplane::reconcile

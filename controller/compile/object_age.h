#pragma once

// Who was first: the compile pass settles every claim (a site id, a host on a listener, a port's
// protocol) in favour of the older object, so that creating a conflicting object never takes a
// working one off the air.

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "controller/api/object_meta.h"

namespace siteplane::compile {

// Oldest first: creationTimestamp, then name, then namespace. An object without a timestamp (built
// in code, never stored) sorts last so that a stored object keeps its claim.
using Age = std::tuple<api::Time, std::string, std::string>;
inline Age ageOf(const api::ObjectMeta& metadata) {
  return {metadata.creationTimestamp.value_or(api::Time::max()), metadata.name,
          metadata.namespaceName};
}

// The indexes of `objects` (each with `.metadata`), oldest first.
template <typename Object>
std::vector<size_t> oldestFirst(const std::vector<Object>& objects) {
  std::vector<size_t> order(objects.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return ageOf(objects[a].metadata) < ageOf(objects[b].metadata);
  });
  return order;
}

}  // namespace siteplane::compile

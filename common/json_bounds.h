#pragma once

// Bounds on what a JSON text from a peer can make the process build. nlohmann::json parses
// iteratively, but copying, comparing, dumping and decoding a value recurse once per nesting
// level, so a body of 50,000 `[` exhausts a thread's stack long after parsing succeeded. Bodies
// are parsed with a depth bound where they are decoded: the API server's requests and the
// Kubernetes API server's answers alike.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace siteplane {

// kube-apiserver's JSON decoder (sigs.k8s.io/json) refuses nesting beyond 10,000 levels.
inline constexpr int kMaxJsonDepth = 10000;

// Parses `text` as JSON, refusing it (without building the rest of the value) as soon as it nests
// deeper than `maxDepth` objects/arrays. Errors start with `what` ("the body is not valid JSON:
// ...", "the body is nested deeper than 10000 levels").
Result<nlohmann::json> parseJsonBounded(std::string_view text, const std::string& what,
                                        int maxDepth = kMaxJsonDepth);

// The serialized size (an estimate within a few bytes per scalar) and depth of a value, computed
// without recursion. The walk stops as soon as the size passes `byteBudget` or the depth passes
// `maxDepth` (`exceeded` is then true), so measuring costs at most the budget.
struct JsonExtent {
  size_t bytes = 0;
  int depth = 0;
  bool exceeded = false;
};
JsonExtent measureJson(const nlohmann::json& value, size_t byteBudget,
                       int maxDepth = kMaxJsonDepth);

}  // namespace siteplane

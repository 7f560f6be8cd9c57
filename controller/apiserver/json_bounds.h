#pragma once

// Bounds on what an API body can make the server build. nlohmann::json parses iteratively, but
// copying, comparing, dumping and decoding a value recurse once per nesting level, so a body of
// 50,000 `[` exhausts a thread's stack long after parsing succeeded; and a few hundred bytes of
// JSON-patch `copy` operations can double the object per operation. Both are refused here, where
// the bytes are decoded and where a patch is applied, with the limits kube-apiserver uses.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "controller/apiserver/api_error.h"

namespace siteplane::apiserver {

// kube-apiserver's JSON decoder (sigs.k8s.io/json) refuses nesting beyond 10,000 levels.
inline constexpr int kMaxJsonDepth = 10000;
// kube-apiserver: "The allowed maximum operations in a JSON patch is 10000".
inline constexpr size_t kMaxJsonPatchOperations = 10000;

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

struct JsonPatchBounds {
  size_t maxObjectBytes = 0;  // the largest object a patch may produce (serve: the body limit)
  int maxDepth = kMaxJsonDepth;
  size_t maxOperations = kMaxJsonPatchOperations;
};

// Applies an RFC 6902 patch (`operations` must be an array) to `document` in place, one operation
// at a time, refusing before any operation that could make the document larger than
// `maxObjectBytes` (413, as kube-apiserver answers an object too large to store) or deeper than
// `maxDepth` (422), and a patch of more than `maxOperations` operations (413). A failed operation
// (missing path, failed test) is 422. On error `document` is partly patched: apply it to a copy.
std::optional<ApiError> applyJsonPatchBounded(nlohmann::json& document,
                                              const nlohmann::json& operations,
                                              const JsonPatchBounds& bounds);

}  // namespace siteplane::apiserver

#pragma once

// Bounds on what an API body can make the server build: nesting (common/json_bounds.h, where the
// body is decoded) and growth, since a few hundred bytes of JSON-patch `copy` operations can
// double the object per operation. Refused where a patch is applied, with the limits
// kube-apiserver uses.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/json_bounds.h"
#include "common/status.h"
#include "controller/apiserver/api_error.h"

namespace siteplane::apiserver {

// kube-apiserver: "The allowed maximum operations in a JSON patch is 10000".
inline constexpr size_t kMaxJsonPatchOperations = 10000;

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

#include "controller/apiserver/json_bounds.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace siteplane::apiserver {
namespace {

size_t pointerDepth(const std::string& pointer) {
  return static_cast<size_t>(std::count(pointer.begin(), pointer.end(), '/'));
}

const std::string* stringMember(const nlohmann::json& object, const char* name) {
  auto found = object.find(name);
  if (found == object.end()) return nullptr;
  return found->get_ptr<const std::string*>();
}

}  // namespace

std::optional<ApiError> applyJsonPatchBounded(nlohmann::json& document,
                                              const nlohmann::json& operations,
                                              const JsonPatchBounds& bounds) {
  if (operations.size() > bounds.maxOperations) {
    return ApiError::requestEntityTooLarge("The allowed maximum operations in a JSON patch is " +
                                           std::to_string(bounds.maxOperations) + ", got " +
                                           std::to_string(operations.size()));
  }
  // Upper bounds on the document's size and depth, raised by each operation before it runs, so
  // the document never grows past them (and measuring stays within the byte budget overall: only
  // values that are added are measured, and their sizes add up to at most the budget).
  JsonExtent start = measureJson(document, bounds.maxObjectBytes, bounds.maxDepth);
  size_t bytes = start.bytes;
  size_t depth = static_cast<size_t>(start.depth);
  auto tooLarge = [&](size_t index, const std::string& op) {
    return ApiError::requestEntityTooLarge("the JSON patch would make the object larger than " +
                                           std::to_string(bounds.maxObjectBytes) +
                                           " bytes (operation " + std::to_string(index) + ", " +
                                           op + ")");
  };
  auto tooDeep = [&](size_t index, const std::string& op) {
    return ApiError::invalid("the JSON patch would nest the object deeper than " +
                                 std::to_string(bounds.maxDepth) + " levels (operation " +
                                 std::to_string(index) + ", " + op + ")",
                             {});
  };
  for (size_t index = 0; index < operations.size(); ++index) {
    const nlohmann::json& operation = operations[index];
    const std::string* op = operation.is_object() ? stringMember(operation, "op") : nullptr;
    const std::string* path = operation.is_object() ? stringMember(operation, "path") : nullptr;
    const std::string* from = operation.is_object() ? stringMember(operation, "from") : nullptr;
    if (op && path) {
      const nlohmann::json* added = nullptr;
      if ((*op == "add" || *op == "replace") && operation.contains("value")) {
        added = &operation["value"];
      } else if (*op == "copy" && from) {
        try {
          added = &std::as_const(document).at(nlohmann::json::json_pointer(*from));
        } catch (const nlohmann::json::exception&) {
          added = nullptr;  // the operation itself reports the bad pointer below
        }
      } else if (*op == "move" && from) {
        // The moved value sits below pointerDepth(from) containers, so its own depth is at most
        // what is left of the document's.
        size_t below = depth > pointerDepth(*from) ? depth - pointerDepth(*from) : 0;
        depth = std::max(depth, pointerDepth(*path) + below);
        if (depth > static_cast<size_t>(bounds.maxDepth)) return tooDeep(index, *op);
      }
      if (added) {
        size_t remaining = bounds.maxObjectBytes > bytes ? bounds.maxObjectBytes - bytes : 0;
        JsonExtent extent = measureJson(*added, remaining, bounds.maxDepth);
        bytes += extent.bytes + path->size();
        depth = std::max(depth, pointerDepth(*path) + static_cast<size_t>(extent.depth));
        if (bytes > bounds.maxObjectBytes) return tooLarge(index, *op);
        if (depth > static_cast<size_t>(bounds.maxDepth)) return tooDeep(index, *op);
      }
    }
    try {
      document.patch_inplace(nlohmann::json::array({operation}));
    } catch (const nlohmann::json::exception& error) {
      return ApiError::invalid(std::string("the JSON patch could not be applied: ") + error.what(),
                               {});
    }
  }
  return std::nullopt;
}

}  // namespace siteplane::apiserver

#include "controller/apiserver/json_bounds.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace siteplane::apiserver {
namespace {

// Thrown from the parser callback to stop the parse at the first level too deep; caught in
// parseJsonBounded, the only caller of the parse it interrupts.
struct TooDeep {};

size_t pointerDepth(const std::string& pointer) {
  return static_cast<size_t>(std::count(pointer.begin(), pointer.end(), '/'));
}

const std::string* stringMember(const nlohmann::json& object, const char* name) {
  auto found = object.find(name);
  if (found == object.end()) return nullptr;
  return found->get_ptr<const std::string*>();
}

}  // namespace

Result<nlohmann::json> parseJsonBounded(std::string_view text, const std::string& what,
                                        int maxDepth) {
  // The callback sees each object/array start with the number of containers already open, before
  // the new one is pushed: the outermost has depth 0.
  nlohmann::json::parser_callback_t guard =
      [maxDepth](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start) &&
            depth >= maxDepth) {
          throw TooDeep{};
        }
        return true;
      };
  try {
    return nlohmann::json::parse(text, guard);
  } catch (const TooDeep&) {
    return Result<nlohmann::json>::error(what + " is nested deeper than " +
                                         std::to_string(maxDepth) + " levels");
  } catch (const nlohmann::json::exception& error) {
    return Result<nlohmann::json>::error(what + " is not valid JSON: " + error.what());
  }
}

JsonExtent measureJson(const nlohmann::json& value, size_t byteBudget, int maxDepth) {
  JsonExtent extent;
  // (value, number of containers it is inside)
  std::vector<std::pair<const nlohmann::json*, int>> pending{{&value, 0}};
  while (!pending.empty()) {
    auto [node, outer] = pending.back();
    pending.pop_back();
    switch (node->type()) {
      case nlohmann::json::value_t::object:
        extent.depth = std::max(extent.depth, outer + 1);
        extent.bytes += 2 + (node->empty() ? 0 : node->size() - 1);  // {} and commas
        for (const auto& [key, child] : node->items()) {
          extent.bytes += key.size() + 3;  // "key":
          pending.emplace_back(&child, outer + 1);
        }
        break;
      case nlohmann::json::value_t::array:
        extent.depth = std::max(extent.depth, outer + 1);
        extent.bytes += 2 + (node->empty() ? 0 : node->size() - 1);
        for (const auto& child : *node) pending.emplace_back(&child, outer + 1);
        break;
      case nlohmann::json::value_t::string:
        extent.bytes += node->get_ref<const std::string&>().size() + 2;
        break;
      case nlohmann::json::value_t::boolean:
        extent.bytes += 5;
        break;
      case nlohmann::json::value_t::null:
        extent.bytes += 4;
        break;
      default:  // numbers: what a typical one takes; the estimate only has to bound growth
        extent.bytes += 8;
        break;
    }
    if (extent.bytes > byteBudget || extent.depth > maxDepth) {
      extent.exceeded = true;
      return extent;
    }
  }
  return extent;
}

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

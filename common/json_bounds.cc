#include "common/json_bounds.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace siteplane {
namespace {

// Thrown from the parser callback to stop the parse at the first level too deep; caught in
// parseJsonBounded, the only caller of the parse it interrupts.
struct TooDeep {};

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

}  // namespace siteplane

#include "controller/apiserver/field_selector.h"

namespace siteplane::apiserver {
namespace {

std::string trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return std::string(text);
}

std::string render(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

}  // namespace

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  FieldSelector selector;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (trim(part).empty()) continue;
    Requirement requirement;
    size_t op = part.find("!=");
    size_t valueStart;
    if (op != std::string_view::npos) {
      requirement.equals = false;
      valueStart = op + 2;
    } else if ((op = part.find("==")) != std::string_view::npos) {
      valueStart = op + 2;
    } else if ((op = part.find('=')) != std::string_view::npos) {
      valueStart = op + 1;
    } else {
      return Result<FieldSelector>::error("fieldSelector: \"" + std::string(part) +
                                          "\" is not path=value, path==value or path!=value");
    }
    std::string path = trim(part.substr(0, op));
    if (path.empty()) {
      return Result<FieldSelector>::error("fieldSelector: \"" + std::string(part) +
                                          "\" has no field path");
    }
    size_t start = 0;
    while (start <= path.size()) {
      size_t dot = path.find('.', start);
      requirement.path.push_back(path.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    requirement.value = trim(part.substr(valueStart));
    selector.requirements_.push_back(std::move(requirement));
  }
  return selector;
}

bool FieldSelector::matches(const nlohmann::json& object) const {
  for (const auto& requirement : requirements_) {
    const nlohmann::json* node = &object;
    for (const auto& key : requirement.path) {
      if (!node || !node->is_object()) {
        node = nullptr;
        break;
      }
      auto it = node->find(key);
      node = it == node->end() ? nullptr : &*it;
    }
    std::string actual = node ? render(*node) : "";
    if ((actual == requirement.value) != requirement.equals) return false;
  }
  return true;
}

}  // namespace siteplane::apiserver

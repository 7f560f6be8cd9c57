#pragma once

// `?fieldSelector=` as Kubernetes spells it: comma-separated `path=value`, `path==value` or
// `path!=value` requirements on dotted field paths (`metadata.name=web`,
// `involvedObject.kind=Binding`). kubectl wait and describe use it. A field that is absent
// compares as the empty string.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace siteplane::apiserver {

class FieldSelector {
 public:
  // Fails naming the requirement that is not `path=value`, `path==value` or `path!=value`.
  static Result<FieldSelector> parse(std::string_view text);

  bool matches(const nlohmann::json& object) const;
  bool empty() const { return requirements_.empty(); }

 private:
  struct Requirement {
    std::vector<std::string> path;
    bool equals = true;
    std::string value;
  };
  std::vector<Requirement> requirements_;
};

}  // namespace siteplane::apiserver

#pragma once

// The JSONPath subset that CRD printer columns use (`.spec.port`, `.spec.dnsNames[0]`,
// `.status.conditions[?(@.type=="Ready")].status`, `[*]`, `['dotted.key']`), evaluated on an
// unstructured object. Parsed once per column; evaluation never throws.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace siteplane::apiserver {

class JsonPath {
 public:
  // Accepts the expression with or without surrounding `{}`; fails naming the offset of the
  // first character it cannot read.
  static Result<JsonPath> parse(std::string_view expression);

  // Every value the path selects, in document order (empty when nothing matches).
  std::vector<nlohmann::json> evaluate(const nlohmann::json& root) const;

  struct Filter {
    std::vector<std::string> field;  // path relative to @
    std::string op;                  // "==", "!=", "<", "<=", ">", ">=", or "" (exists)
    nlohmann::json literal;
  };
  struct Step {
    enum class Kind { kField, kIndex, kWildcard, kFilter } kind = Kind::kField;
    std::string field;
    long index = 0;
    Filter filter;
  };

 private:
  std::vector<Step> steps_;
};

}  // namespace siteplane::apiserver

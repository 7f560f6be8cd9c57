#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace siteplane::store {

// A Kubernetes label selector as `kubectl get -l` and `?labelSelector=` spell it: comma-separated
// requirements, all of which must hold.
//   equality-based: `tier=web`, `tier==web`, `tier!=web` (also true when the label is absent)
//   set-based:      `env in (prod,staging)`, `env notin (dev)` (also true when absent)
//   existence:      `canary` (label present), `!canary` (label absent)
// The empty selector matches every object.
class LabelSelector {
 public:
  enum class Operator { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };

  struct Requirement {
    std::string key;
    Operator op = Operator::kExists;
    std::vector<std::string> values;  // one for kEquals/kNotEquals, one or more for kIn/kNotIn
  };

  LabelSelector() = default;

  // Invalid, naming the selector and the 1-based column, when the text is not a selector or a key
  // or value is not a valid label key/value.
  static Result<LabelSelector> parse(std::string_view text);

  // `labels` is an object's metadata.labels (an object of strings) or null when it has none.
  bool matches(const nlohmann::json& labels) const;
  // Reads metadata.labels of `object`.
  bool matchesObject(const nlohmann::json& object) const;

  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

// A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters,
// alphanumeric at both ends with '-', '_', '.' inside ("app.kubernetes.io/name", "tier").
bool isValidLabelKey(std::string_view key);
// A label value: empty, or at most 63 characters, alphanumeric at both ends with '-', '_', '.'.
bool isValidLabelValue(std::string_view value);

}  // namespace siteplane::store

#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "common/names.h"
#include "common/status.h"

namespace siteplane::store {

// The namespace objects land in when metadata.namespace is absent or empty.
inline constexpr std::string_view kDefaultNamespace = "default";

// Identifies one object: kind ("Site"), namespace and name. Keys order by kind, then namespace,
// then name, so that all objects of one kind (and of one namespace within it) are one range.
struct ObjectKey {
  std::string kind;
  std::string ns;  // metadata.namespace
  std::string name;

  auto operator<=>(const ObjectKey&) const = default;
  bool operator==(const ObjectKey&) const = default;

  // "Kind/namespace/name": the work-queue key and the form used in logs.
  std::string toString() const;
  // Parses toString()'s form; Invalid when a part is missing or not a valid kind/DNS-1123 label.
  static Result<ObjectKey> parse(std::string_view text);
};

// A Kubernetes kind: an upper-case letter followed by letters and digits, at most 63 characters.
bool isValidKind(std::string_view kind);

}  // namespace siteplane::store

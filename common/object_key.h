#pragma once

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/names.h"
#include "common/status.h"

namespace siteplane {

// The namespace objects land in when metadata.namespace is absent or empty.
inline constexpr std::string_view kDefaultNamespace = "default";

// Identifies one object: kind ("Site"), namespace and name — the one key the store, the work
// queue, the manifest loader, the compile pass and logs share. Keys order by kind, then
// namespace, then name, so that all objects of one kind (and of one namespace within it) are one
// range.
struct ObjectKey {
  std::string kind;
  std::string ns;  // metadata.namespace
  std::string name;

  auto operator<=>(const ObjectKey&) const = default;
  bool operator==(const ObjectKey&) const = default;

  // "Kind/namespace/name": the work-queue key and the form used in logs.
  std::string toString() const;
  // "namespace/name", as kubectl prints it.
  std::string namespacedName() const;
  // Parses toString()'s form; Invalid when a part is missing or not a valid kind/DNS-1123 label.
  static Result<ObjectKey> parse(std::string_view text);
};

struct ObjectKeyHash {
  size_t operator()(const ObjectKey& key) const noexcept;
};

// A Kubernetes kind: an upper-case letter followed by letters and digits, at most 63 characters.
bool isValidKind(std::string_view kind);

}  // namespace siteplane

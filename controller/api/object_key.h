#pragma once

#include <compare>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace siteplane::api {

// Identifies one object: kind, namespace and name. The work queue, the store and logs use its
// string form "Kind/namespace/name" (e.g. "Binding/default/contoso-https").
struct ObjectKey {
  std::string kind;
  std::string namespaceName;
  std::string name;

  std::string toString() const;
  // "namespace/name", as kubectl prints it.
  std::string namespacedName() const;
  // Parses the toString() form; nullopt when it does not have exactly three non-empty parts.
  static std::optional<ObjectKey> parse(std::string_view text);

  bool operator==(const ObjectKey&) const = default;
  auto operator<=>(const ObjectKey&) const = default;
};

struct ObjectKeyHash {
  size_t operator()(const ObjectKey& key) const noexcept;
};

}  // namespace siteplane::api

#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace siteplane::api {

// The location of a field inside an object, kept as segments so that it renders both as the
// human-readable path of Kubernetes validation ("spec.ssl.clientCARefs[1].name") and as the JSON
// pointer ("/spec/ssl/clientCARefs/1/name") that keys a document's PositionMap.
class FieldPath {
 public:
  FieldPath() = default;
  // A path from dotted field names, e.g. FieldPath("spec.ssl"); no indexes or map keys.
  explicit FieldPath(std::string_view dotted);

  FieldPath child(std::string_view field) const;
  FieldPath index(size_t index) const;
  // A key of a string map (labels, annotations): rendered "labels[app.kubernetes.io/name]" when
  // the key is not a plain identifier, so that a dot in the key is not read as nesting.
  FieldPath key(std::string_view key) const;
  FieldPath parent() const;

  bool empty() const { return segments_.empty(); }
  std::string toString() const;
  std::string toPointer() const;

  bool operator==(const FieldPath&) const = default;

 private:
  struct Field {
    std::string name;
    bool mapKey = false;
    bool operator==(const Field&) const = default;
  };
  std::vector<std::variant<Field, size_t>> segments_;
};

// RFC 6901: "~" and "/" inside a JSON Pointer reference token are escaped ("~0", "~1"). Position
// maps are keyed by these pointers, so the manifest reader and FieldPath must escape alike.
std::string escapePointerToken(std::string_view token);

}  // namespace siteplane::api

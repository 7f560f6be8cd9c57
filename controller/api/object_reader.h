#pragma once

// Internal to controller/api: the strict reader every kind's decoder is written with. It walks a
// JSON object, records which fields the decoder asked for, reports type errors as it goes and, in
// finish(), every field nobody asked for (with a "did you mean" suggestion).

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/diagnostic.h"
#include "controller/api/field_path.h"

namespace siteplane::api {

// What one object's decoding shares: the errors so far and where relative paths resolve.
class DecodeContext {
 public:
  explicit DecodeContext(std::filesystem::path baseDirectory)
      : baseDirectory_(std::move(baseDirectory)) {}

  void error(const FieldPath& path, std::string message, bool atKey = false) {
    errors_.push_back({path, std::move(message), atKey, /*unknownField=*/false});
  }
  // A field the schema does not have; the error points at its key.
  void unknownField(const FieldPath& path, std::string message) {
    errors_.push_back({path, std::move(message), /*atKey=*/true, /*unknownField=*/true});
  }
  const std::vector<FieldError>& errors() const { return errors_; }
  std::vector<FieldError> takeErrors() { return std::move(errors_); }

  // A relative file path resolved against the manifest's directory (unchanged without one).
  std::string resolvePath(const std::string& path) const;

 private:
  std::filesystem::path baseDirectory_;
  std::vector<FieldError> errors_;
};

// "string", "integer", "number", "boolean", "object", "list" or "null".
std::string jsonTypeName(const nlohmann::json& value);

// The type and, for scalars, the value, for "got ..." in messages: `string "yes"`, `number 1.5`,
// `boolean true`, `object`. Long strings are cut.
std::string describeValue(const nlohmann::json& value);

// `"a" or "b"` / `one of "a", "b", "c"`, for enum error messages.
std::string describeChoices(std::initializer_list<std::string_view> choices);

class ObjectReader {
 public:
  // Precondition: node.is_object(); node outlives the reader.
  ObjectReader(const nlohmann::json& node, FieldPath path, DecodeContext& context)
      : node_(&node), path_(std::move(path)), context_(&context) {}

  const FieldPath& path() const { return path_; }
  FieldPath pathOf(std::string_view field) const { return path_.child(field); }
  DecodeContext& context() const { return *context_; }
  void error(std::string_view field, std::string message) const {
    context_->error(pathOf(field), std::move(message));
  }

  // Every accessor marks the field as known. A field set to null counts as absent, as in
  // Kubernetes. Accessors return nullopt when the field is absent or has the wrong type (the type
  // error is already recorded).
  const nlohmann::json* get(std::string_view field);
  bool has(std::string_view field) { return get(field) != nullptr; }
  // Records "is required" when the field is absent; returns whether it is present.
  bool require(std::string_view field);

  std::optional<std::string> string(std::string_view field);
  // A string that must be one of `choices`.
  std::optional<std::string> enumeration(std::string_view field,
                                         std::initializer_list<std::string_view> choices);
  std::optional<bool> boolean(std::string_view field);
  std::optional<int64_t> integer(std::string_view field);
  std::optional<std::vector<std::string>> stringList(std::string_view field);
  std::optional<std::map<std::string, std::string>> stringMap(std::string_view field);
  std::optional<ObjectReader> object(std::string_view field);

  // Calls item(reader, index) for every element of a list of objects; elements that are not
  // objects are reported. Returns false when the field is absent or not a list.
  template <typename F>
  bool objectList(std::string_view field, F&& item) {
    const nlohmann::json* value = listField(field);
    if (!value) return false;
    for (size_t i = 0; i < value->size(); ++i) {
      FieldPath itemPath = pathOf(field).index(i);
      const auto& element = (*value)[i];
      if (!element.is_object()) {
        context_->error(itemPath, "must be an object, got " + jsonTypeName(element));
        continue;
      }
      ObjectReader reader(element, itemPath, *context_);
      item(reader, i);
      reader.finish();
    }
    return true;
  }

  // Reports every field of the object that no accessor asked for.
  void finish();

 private:
  const nlohmann::json* listField(std::string_view field);

  const nlohmann::json* node_;
  FieldPath path_;
  DecodeContext* context_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace siteplane::api

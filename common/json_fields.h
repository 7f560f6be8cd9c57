#pragma once

// Reading one string out of an object that came from elsewhere (a request body, the Kubernetes
// API, the store) without throwing: nlohmann's value() and get<>() throw on a field of another
// type, and operator[] on a const value that lacks the key is undefined.

#include <nlohmann/json.hpp>
#include <string>

namespace siteplane {

// object[field] when `object` is an object that has it; null otherwise.
inline const nlohmann::json* memberOf(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return nullptr;
  auto found = object.find(field);
  return found == object.end() ? nullptr : &*found;
}

// object[field] when `object` is an object and that member is a string; "" otherwise.
inline std::string stringMember(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return "";
  auto found = object.find(field);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

// object.metadata[field], by the same rule.
inline std::string metadataString(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return "";
  auto metadata = object.find("metadata");
  return metadata != object.end() ? stringMember(*metadata, field) : "";
}

}  // namespace siteplane

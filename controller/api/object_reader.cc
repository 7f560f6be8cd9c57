#include "controller/api/object_reader.h"

#include <limits>

#include "controller/api/validation.h"

namespace siteplane::api {

std::string DecodeContext::resolvePath(const std::string& path) const {
  if (path.empty() || baseDirectory_.empty()) return path;
  std::filesystem::path given(path);
  if (given.is_absolute()) return path;
  return (baseDirectory_ / given).lexically_normal().string();
}

std::string jsonTypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      return "object";
    case nlohmann::json::value_t::array:
      return "list";
    case nlohmann::json::value_t::string:
      return "string";
    case nlohmann::json::value_t::boolean:
      return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "integer";
    case nlohmann::json::value_t::number_float:
      return "number";
    case nlohmann::json::value_t::null:
      return "null";
    default:
      return "binary";
  }
}

std::string describeValue(const nlohmann::json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    constexpr size_t kMax = 40;
    std::string shown = text.size() > kMax ? text.substr(0, kMax) + "..." : text;
    return "string \"" + shown + "\"";
  }
  if (value.is_number() || value.is_boolean()) return jsonTypeName(value) + " " + value.dump();
  return jsonTypeName(value);
}

std::string describeChoices(std::initializer_list<std::string_view> choices) {
  std::string out;
  if (choices.size() == 2) {
    return "\"" + std::string(*choices.begin()) + "\" or \"" + std::string(*(choices.begin() + 1)) +
           "\"";
  }
  out = "one of ";
  bool first = true;
  for (auto choice : choices) {
    if (!first) out += ", ";
    out += "\"" + std::string(choice) + "\"";
    first = false;
  }
  return out;
}

const nlohmann::json* ObjectReader::get(std::string_view field) {
  known_.emplace(field);
  auto it = node_->find(std::string(field));
  if (it == node_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool ObjectReader::require(std::string_view field) {
  if (has(field)) return true;
  error(field, "is required");
  return false;
}

std::optional<std::string> ObjectReader::string(std::string_view field) {
  const nlohmann::json* value = get(field);
  if (!value) return std::nullopt;
  if (!value->is_string()) {
    error(field, "must be a string, got " + jsonTypeName(*value));
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<std::string> ObjectReader::enumeration(
    std::string_view field, std::initializer_list<std::string_view> choices) {
  const nlohmann::json* value = get(field);
  if (!value) return std::nullopt;
  if (!value->is_string()) {
    error(field, "must be " + describeChoices(choices) + ", got " + describeValue(*value));
    return std::nullopt;
  }
  auto text = value->get<std::string>();
  for (auto choice : choices) {
    if (text == choice) return text;
  }
  error(field, "must be " + describeChoices(choices) + ", got \"" + text + "\"");
  return std::nullopt;
}

std::optional<bool> ObjectReader::boolean(std::string_view field) {
  const nlohmann::json* value = get(field);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) {
    error(field, "must be a boolean (true or false), got " + describeValue(*value));
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<int64_t> ObjectReader::integer(std::string_view field) {
  const nlohmann::json* value = get(field);
  if (!value) return std::nullopt;
  if (value->is_number_unsigned()) {
    if (value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      error(field, "must be an integer of at most 64 bits, got " + value->dump());
      return std::nullopt;
    }
    return static_cast<int64_t>(value->get<uint64_t>());
  }
  if (!value->is_number_integer()) {
    error(field, "must be an integer, got " + describeValue(*value));
    return std::nullopt;
  }
  return value->get<int64_t>();
}

const nlohmann::json* ObjectReader::listField(std::string_view field) {
  const nlohmann::json* value = get(field);
  if (!value) return nullptr;
  if (!value->is_array()) {
    error(field, "must be a list, got " + jsonTypeName(*value));
    return nullptr;
  }
  return value;
}

std::optional<std::vector<std::string>> ObjectReader::stringList(std::string_view field) {
  const nlohmann::json* value = listField(field);
  if (!value) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < value->size(); ++i) {
    const auto& element = (*value)[i];
    if (!element.is_string()) {
      context_->error(pathOf(field).index(i), "must be a string, got " + jsonTypeName(element));
      ok = false;
      continue;
    }
    out.push_back(element.get<std::string>());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> ObjectReader::stringMap(std::string_view field) {
  const nlohmann::json* value = get(field);
  if (!value) return std::nullopt;
  if (!value->is_object()) {
    error(field, "must be an object of strings, got " + jsonTypeName(*value));
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& [key, element] : value->items()) {
    if (!element.is_string()) {
      context_->error(pathOf(field).key(key), "must be a string, got " + jsonTypeName(element));
      ok = false;
      continue;
    }
    out.emplace(key, element.get<std::string>());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<ObjectReader> ObjectReader::object(std::string_view field) {
  const nlohmann::json* value = get(field);
  if (!value) return std::nullopt;
  if (!value->is_object()) {
    error(field, "must be an object, got " + jsonTypeName(*value));
    return std::nullopt;
  }
  return ObjectReader(*value, pathOf(field), *context_);
}

void ObjectReader::finish() {
  std::vector<std::string> candidates(known_.begin(), known_.end());
  for (const auto& [key, value] : node_->items()) {
    if (known_.count(key)) continue;
    std::string message = "unknown field";
    if (auto suggestion = closestMatch(key, candidates)) {
      message += "; did you mean \"" + *suggestion + "\"?";
    }
    context_->unknownField(pathOf(key), message);
  }
}

}  // namespace siteplane::api

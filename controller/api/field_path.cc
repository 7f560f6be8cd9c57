#include "controller/api/field_path.h"

namespace siteplane::api {
namespace {

bool isIdentifier(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string escapePointerToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

FieldPath::FieldPath(std::string_view dotted) {
  while (!dotted.empty()) {
    size_t dot = dotted.find('.');
    segments_.emplace_back(Field{std::string(dotted.substr(0, dot)), false});
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
}

FieldPath FieldPath::child(std::string_view field) const {
  FieldPath out = *this;
  out.segments_.emplace_back(Field{std::string(field), false});
  return out;
}

FieldPath FieldPath::index(size_t index) const {
  FieldPath out = *this;
  out.segments_.emplace_back(index);
  return out;
}

FieldPath FieldPath::key(std::string_view key) const {
  FieldPath out = *this;
  out.segments_.emplace_back(Field{std::string(key), true});
  return out;
}

FieldPath FieldPath::parent() const {
  FieldPath out = *this;
  if (!out.segments_.empty()) out.segments_.pop_back();
  return out;
}

std::string FieldPath::toString() const {
  std::string out;
  for (const auto& segment : segments_) {
    if (const auto* index = std::get_if<size_t>(&segment)) {
      out += '[';
      out += std::to_string(*index);
      out += ']';
      continue;
    }
    const auto& field = std::get<Field>(segment);
    if (field.mapKey && !isIdentifier(field.name)) {
      out += '[';
      out += field.name;
      out += ']';
      continue;
    }
    if (!out.empty()) out += ".";
    out += field.name;
  }
  return out;
}

std::string FieldPath::toPointer() const {
  std::string out;
  for (const auto& segment : segments_) {
    out += "/";
    if (const auto* index = std::get_if<size_t>(&segment)) {
      out += std::to_string(*index);
    } else {
      out += escapePointerToken(std::get<Field>(segment).name);
    }
  }
  return out;
}

}  // namespace siteplane::api

#include "controller/apiserver/table_converter.h"

#include <cstdio>
#include <ctime>

namespace siteplane::apiserver {

std::string humanDuration(std::chrono::seconds age) {
  long long seconds = age.count();
  // Kubernetes tolerates a second of clock skew before calling an age invalid.
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  long long minutes = seconds / 60;
  if (minutes < 10) {
    long long s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m"
                  : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  long long hours = minutes / 60;
  if (hours < 8) {
    long long m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h"
                  : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    long long h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d"
                  : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    long long days = (hours / 24) % 365;
    return days == 0 ? std::to_string(hours / 24 / 365) + "y"
                     : std::to_string(hours / 24 / 365) + "y" + std::to_string(days) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

bool parseRfc3339(const std::string& text, std::chrono::system_clock::time_point& out) {
  int year, month, day, hour, minute, second, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      consumed != 19) {
    return false;
  }
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  long offsetSeconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offsetSeconds = (text[pos] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    pos += 6;
  } else {
    return false;
  }
  if (pos != text.size()) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  time_t seconds = timegm(&tm);
  out = std::chrono::system_clock::from_time_t(seconds - offsetSeconds);
  return true;
}

std::string formatRfc3339(std::chrono::system_clock::time_point time) {
  time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

TableConverter::TableConverter(const ResourceType& type, std::chrono::system_clock::time_point now)
    : type_(type), now_(now) {}

nlohmann::json TableConverter::columnDefinitions() const {
  nlohmann::json columns = nlohmann::json::array();
  columns.push_back({{"name", "Name"},
                     {"type", "string"},
                     {"format", "name"},
                     {"description", "Name must be unique within a namespace."},
                     {"priority", 0}});
  for (const auto& column : type_.columns) {
    columns.push_back({{"name", column.name},
                       {"type", column.type},
                       {"format", column.format},
                       {"description", column.description},
                       {"priority", column.priority}});
  }
  return columns;
}

nlohmann::json TableConverter::cell(const PrinterColumn& column,
                                    const nlohmann::json& object) const {
  std::vector<nlohmann::json> values = column.path.evaluate(object);
  if (values.empty()) return nullptr;
  // Like Kubernetes, a column shows the first value its path selects.
  const nlohmann::json& value = values.front();
  if (column.type == "date") {
    std::chrono::system_clock::time_point when;
    if (!value.is_string() || !parseRfc3339(value.get<std::string>(), when)) return nullptr;
    return humanDuration(std::chrono::duration_cast<std::chrono::seconds>(now_ - when));
  }
  if (column.type == "integer") return value.is_number_integer() ? value : nullptr;
  if (column.type == "number") return value.is_number() ? value : nullptr;
  if (column.type == "boolean") return value.is_boolean() ? value : nullptr;
  if (value.is_string()) return value;
  if (value.is_array()) {
    std::string joined;
    for (const auto& item : value) {
      if (!joined.empty()) joined += ",";
      joined += item.is_string() ? item.get<std::string>() : item.dump();
    }
    return joined;
  }
  if (value.is_null()) return nullptr;
  return value.dump();
}

nlohmann::json TableConverter::row(const nlohmann::json& object) const {
  nlohmann::json cells = nlohmann::json::array();
  const nlohmann::json metadata = object.value("metadata", nlohmann::json::object());
  cells.push_back(metadata.value("name", ""));
  for (const auto& column : type_.columns) cells.push_back(cell(column, object));
  nlohmann::json partial = {
      {"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", metadata}};
  partial["metadata"].erase("managedFields");
  return {{"cells", cells}, {"object", partial}};
}

nlohmann::json TableConverter::table(const std::vector<nlohmann::json>& objects,
                                     const std::string& resourceVersion,
                                     bool includeHeaders) const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& object : objects) rows.push_back(row(object));
  nlohmann::json table = {{"kind", "Table"},
                          {"apiVersion", "meta.k8s.io/v1"},
                          {"metadata", {{"resourceVersion", resourceVersion}}},
                          {"rows", rows}};
  table["columnDefinitions"] = includeHeaders ? columnDefinitions() : nlohmann::json::array();
  return table;
}

}  // namespace siteplane::apiserver

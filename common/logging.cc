#include "common/logging.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace siteplane {
namespace {

std::mutex& registryMutex() {
  static std::mutex mutex;
  return mutex;
}

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %n %v";
// JSON lines: the message stays a single string field so that key=value pairs remain grep-able.
constexpr const char* kJsonPattern =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","msg":"%v"})";

}  // namespace

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  std::lock_guard lock(registryMutex());
  if (auto existing = spdlog::get(module)) return existing;
  auto created = spdlog::stderr_color_mt(module);
  created->set_pattern(kTextPattern);
  created->set_level(spdlog::get_level());
  return created;
}

bool configureLogging(const std::string& level, LogFormat format) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  std::lock_guard lock(registryMutex());
  spdlog::set_level(parsed);
  spdlog::set_pattern(format == LogFormat::kJson ? kJsonPattern : kTextPattern);
  return true;
}

}  // namespace siteplane

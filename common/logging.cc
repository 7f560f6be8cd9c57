#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <chrono>
#include <mutex>

namespace siteplane {
namespace {

std::mutex& registryMutex() {
  static std::mutex mutex;
  return mutex;
}

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %n %v";

void appendJsonString(spdlog::memory_buf_t& out, std::string_view text) {
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// One JSON object per line. The message stays one string field (its key=value pairs stay
// grep-able); every string is escaped, so a message can never break the line's JSON.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& out) override {
    auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(millis / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    fmt::format_to(std::back_inserter(out),
                   R"({{"time":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z","level":)",
                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                   utc.tm_sec, millis % 1000);
    auto level = spdlog::level::to_string_view(msg.level);
    appendJsonString(out, std::string_view(level.data(), level.size()));
    out.append(std::string_view(R"(,"logger":)"));
    appendJsonString(out, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    out.append(std::string_view(R"(,"msg":)"));
    appendJsonString(out, std::string_view(msg.payload.data(), msg.payload.size()));
    out.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

std::unique_ptr<spdlog::formatter> makeFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<spdlog::pattern_formatter>(kTextPattern);
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  std::lock_guard lock(registryMutex());
  if (auto existing = spdlog::get(module)) return existing;
  // The registry gives a new logger the current global formatter and level (configureLogging).
  return spdlog::stderr_color_mt(module);
}

bool configureLogging(const std::string& level, LogFormat format) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") return false;
  std::lock_guard lock(registryMutex());
  spdlog::set_level(parsed);
  spdlog::set_formatter(makeFormatter(format));
  return true;
}

}  // namespace siteplane

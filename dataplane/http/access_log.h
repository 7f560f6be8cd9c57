#pragma once

// One line per request through the spdlog logger "dataplane.access": the W3C extended format IIS
// writes (a "#Fields:" header, space-separated values, '-' for empty, '+' for spaces) or JSON
// lines.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

namespace spdlog {
class logger;
}

namespace siteplane::http {

enum class AccessLogFormat { kW3C, kJson, kOff };

// Parses "w3c", "json", "off"; false for anything else.
bool parseAccessLogFormat(std::string_view text, AccessLogFormat& format);

struct AccessRecord {
  std::chrono::system_clock::time_point time;
  std::string_view serverIp;
  uint16_t serverPort = 0;
  std::string_view clientIp;
  std::string_view method;
  std::string_view uriStem;
  std::string_view uriQuery;
  std::string_view host;
  int status = 0;
  int substatus = 0;
  uint64_t bytes = 0;  // response bytes, head included
  uint64_t timeTakenMs = 0;
  std::string_view tlsVersion;
  std::string_view tlsCipher;
  std::string_view sni;
  std::string_view site;
  std::string_view clientSubject;  // verified client certificate subject (Accept/Require)
};

class AccessLog {
 public:
  static constexpr const char* kFields =
      "date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip cs-host sc-status "
      "sc-substatus sc-bytes time-taken tls-version tls-cipher sni site cs-client-subject";

  // Configures the logger to print lines verbatim and, for W3C, writes the header lines.
  explicit AccessLog(AccessLogFormat format);
  bool enabled() const { return format_ != AccessLogFormat::kOff; }
  // Thread-safe (spdlog loggers are); never throws.
  void write(const AccessRecord& record) const noexcept;

 private:
  AccessLogFormat format_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace siteplane::http

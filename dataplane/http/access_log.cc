#include "dataplane/http/access_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <iterator>

#include "common/logging.h"

namespace siteplane::http {
namespace {

using Buffer = fmt::basic_memory_buffer<char, 512>;

// W3C fields cannot contain spaces: IIS writes them as '+'; an empty field is '-'.
void w3cField(Buffer& out, std::string_view value) {
  if (value.empty()) {
    out.push_back('-');
    return;
  }
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(c == ' ' ? '+' : (u < 0x20 || u == 0x7f) ? '?' : c);
  }
}

void jsonString(Buffer& out, std::string_view value) {
  out.push_back('"');
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

bool parseAccessLogFormat(std::string_view text, AccessLogFormat& format) {
  if (text == "w3c")
    format = AccessLogFormat::kW3C;
  else if (text == "json")
    format = AccessLogFormat::kJson;
  else if (text == "off")
    format = AccessLogFormat::kOff;
  else
    return false;
  return true;
}

AccessLog::AccessLog(AccessLogFormat format) : format_(format) {
  if (format_ == AccessLogFormat::kOff) return;
  logger_ = logger("dataplane.access");
  logger_->set_pattern("%v");
  logger_->set_level(spdlog::level::info);
  if (format_ == AccessLogFormat::kW3C) {
    logger_->info("#Software: siteplane");
    logger_->info("#Version: 1.0");
    logger_->info("#Fields: {}", kFields);
  }
}

void AccessLog::write(const AccessRecord& r) const noexcept {
  if (!logger_) return;
  try {
    Buffer out;
    auto it = std::back_inserter(out);
    std::time_t seconds = std::chrono::system_clock::to_time_t(r.time);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    if (format_ == AccessLogFormat::kW3C) {
      fmt::format_to(it, "{:%Y-%m-%d %H:%M:%S} ", utc);
      w3cField(out, r.serverIp);
      out.push_back(' ');
      w3cField(out, r.method);
      out.push_back(' ');
      w3cField(out, r.uriStem);
      out.push_back(' ');
      w3cField(out, r.uriQuery);
      fmt::format_to(it, " {} ", r.serverPort);
      w3cField(out, r.clientIp);
      out.push_back(' ');
      w3cField(out, r.host);
      fmt::format_to(it, " {} {} {} {} ", r.status, r.substatus, r.bytes, r.timeTakenMs);
      for (std::string_view field : {r.tlsVersion, r.tlsCipher, r.sni, r.site, r.clientSubject}) {
        w3cField(out, field);
        out.push_back(' ');
      }
      out.resize(out.size() - 1);
    } else {
      fmt::format_to(it, "{{\"time\":\"{:%Y-%m-%dT%H:%M:%SZ}\",\"s-ip\":", utc);
      jsonString(out, r.serverIp);
      out.append(std::string_view(",\"cs-method\":"));
      jsonString(out, r.method);
      out.append(std::string_view(",\"cs-uri-stem\":"));
      jsonString(out, r.uriStem);
      out.append(std::string_view(",\"cs-uri-query\":"));
      jsonString(out, r.uriQuery);
      fmt::format_to(it, ",\"s-port\":{},\"c-ip\":", r.serverPort);
      jsonString(out, r.clientIp);
      out.append(std::string_view(",\"cs-host\":"));
      jsonString(out, r.host);
      fmt::format_to(it, ",\"sc-status\":{},\"sc-substatus\":{},\"sc-bytes\":{},\"time-taken\":{}",
                     r.status, r.substatus, r.bytes, r.timeTakenMs);
      out.append(std::string_view(",\"tls-version\":"));
      jsonString(out, r.tlsVersion);
      out.append(std::string_view(",\"tls-cipher\":"));
      jsonString(out, r.tlsCipher);
      out.append(std::string_view(",\"sni\":"));
      jsonString(out, r.sni);
      out.append(std::string_view(",\"site\":"));
      jsonString(out, r.site);
      out.append(std::string_view(",\"cs-client-subject\":"));
      jsonString(out, r.clientSubject);
      out.push_back('}');
    }
    logger_->info("{}", std::string_view(out.data(), out.size()));
  } catch (...) {
    // A log line is never worth a connection: drop it.
  }
}

}  // namespace siteplane::http

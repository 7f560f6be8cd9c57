#include "controller/monitoring/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "controller/monitoring/first_error.h"

namespace siteplane::monitoring {
namespace {

using metrics::MetricType;

struct ProcStat {
  uint64_t userTicks = 0;
  uint64_t systemTicks = 0;
  uint64_t startTicks = 0;  // since boot
  uint64_t virtualBytes = 0;
  uint64_t residentPages = 0;
};

// A whole field of decimal digits; nullopt for anything else.
std::optional<uint64_t> toNumber(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<std::string> readProcFile(const char* path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    return Result<std::string>::error(std::string("cannot read ") + path);
  if (text.empty()) return Result<std::string>::error(std::string("cannot read ") + path);
  return text;
}

// proc(5): after "pid (comm) " come the fields from state (3rd) on; comm may hold spaces and
// parentheses, so parsing starts after the last ')'.
Result<ProcStat> readStat() {
  auto text = readProcFile("/proc/self/stat");
  if (!text) return text.status();
  auto close = text->rfind(')');
  if (close == std::string::npos)
    return Result<ProcStat>::error("/proc/self/stat: no ')' after comm");
  std::istringstream fields(text->substr(close + 1));
  std::vector<std::string> values;
  for (std::string field; fields >> field;) values.push_back(field);
  // Field n of proc(5) is values[n - 3].
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kStart = 22 - 3, kVsize = 23 - 3,
                   kRss = 24 - 3;
  if (values.size() <= kRss)
    return Result<ProcStat>::error("/proc/self/stat: " + std::to_string(values.size() + 2) +
                                   " fields, expected at least 24");
  auto userTicks = toNumber(values[kUtime]);
  auto systemTicks = toNumber(values[kStime]);
  auto startTicks = toNumber(values[kStart]);
  auto virtualBytes = toNumber(values[kVsize]);
  auto residentPages = toNumber(values[kRss]);
  if (!userTicks || !systemTicks || !startTicks || !virtualBytes || !residentPages)
    return Result<ProcStat>::error("/proc/self/stat: a field is not a number");
  return ProcStat{*userTicks, *systemTicks, *startTicks, *virtualBytes, *residentPages};
}

// "btime <seconds>" of /proc/stat: when the machine booted, Unix seconds.
Result<uint64_t> readBootTime() {
  auto text = readProcFile("/proc/stat");
  if (!text) return text.status();
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("btime ", 0) != 0) continue;
    if (auto seconds = toNumber(std::string_view(line).substr(6))) return *seconds;
    break;
  }
  return Result<uint64_t>::error("/proc/stat: no btime line");
}

}  // namespace

Status writeProcess(metrics::ExpositionWriter& out) {
  FirstError check;
  check(out.declare("process_cpu_seconds_total", MetricType::kCounter,
                    "Total user and system CPU time spent in seconds."));
  check(out.declare("process_resident_memory_bytes", MetricType::kGauge,
                    "Resident memory size in bytes."));
  check(out.declare("process_virtual_memory_bytes", MetricType::kGauge,
                    "Virtual memory size in bytes."));
  check(out.declare("process_start_time_seconds", MetricType::kGauge,
                    "Start time of the process since unix epoch in seconds."));
  check(out.declare("process_open_fds", MetricType::kGauge, "Number of open file descriptors."));
  check(out.declare("process_max_fds", MetricType::kGauge,
                    "Maximum number of open file descriptors."));

  const double ticksPerSecond = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto stat = readStat();
  if (stat && ticksPerSecond > 0) {
    check(out.add("process_cpu_seconds_total", {},
                  static_cast<double>(stat->userTicks + stat->systemTicks) / ticksPerSecond));
    check(out.add("process_resident_memory_bytes", {},
                  stat->residentPages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE))));
    check(out.add("process_virtual_memory_bytes", {}, stat->virtualBytes));
    auto boot = readBootTime();
    if (boot) {
      check(out.add(
          "process_start_time_seconds", {},
          static_cast<double>(*boot) + static_cast<double>(stat->startTicks) / ticksPerSecond));
    } else {
      check(boot.status());
    }
  } else if (!stat) {
    check(stat.status());
  }

  std::error_code ec;
  uint64_t open = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++open;
  if (ec) {
    check(Status::error("/proc/self/fd: " + ec.message()));
  } else {
    // The directory iterator's own descriptor is among those counted; it is closed again now.
    check(out.add("process_open_fds", {}, open > 0 ? open - 1 : 0));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    check(out.add("process_max_fds", {}, static_cast<uint64_t>(limit.rlim_cur)));
  return check.take();
}

}  // namespace siteplane::monitoring

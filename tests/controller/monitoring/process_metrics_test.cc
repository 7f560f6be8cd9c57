#include "controller/monitoring/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <sstream>

namespace siteplane::monitoring {
namespace {

std::optional<double> sample(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("The process families describe this process as /proc tells it",
          "[controller][monitoring]") {
  // Two descriptors this test opens: process_open_fds counts them.
  int pipeEnds[2];
  REQUIRE(pipe(pipeEnds) == 0);
  metrics::ExpositionWriter withPipe;
  REQUIRE(writeProcess(withPipe));
  close(pipeEnds[0]);
  close(pipeEnds[1]);
  metrics::ExpositionWriter out;
  REQUIRE(writeProcess(out));
  std::string text = out.text();
  INFO(text);

  CHECK_THAT(text, Catch::Contains("# TYPE process_cpu_seconds_total counter\n"));
  auto open = sample(text, "process_open_fds");
  auto openWithPipe = sample(withPipe.text(), "process_open_fds");
  REQUIRE(open);
  REQUIRE(openWithPipe);
  CHECK(*openWithPipe == *open + 2);
  CHECK(*open >= 3);  // stdin, stdout, stderr at least

  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  CHECK(sample(text, "process_max_fds") == static_cast<double>(limit.rlim_cur));

  CHECK(sample(text, "process_resident_memory_bytes").value_or(0) > 1 << 20);
  CHECK(sample(text, "process_virtual_memory_bytes").value_or(0) >=
        sample(text, "process_resident_memory_bytes").value_or(0));
  CHECK(sample(text, "process_cpu_seconds_total").value_or(-1) >= 0);

  // This test binary started moments ago.
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto started = sample(text, "process_start_time_seconds");
  REQUIRE(started);
  CHECK(*started <= now + 1);
  CHECK(*started > now - 3600);
}

}  // namespace siteplane::monitoring

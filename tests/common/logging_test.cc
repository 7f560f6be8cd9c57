#include "common/logging.h"

#include <spdlog/sinks/ostream_sink.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

namespace siteplane {

TEST_CASE("JSON log lines stay valid JSON whatever the message holds", "[common][logging]") {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto log = logger("common.test");
  log->sinks().push_back(sink);
  // Configuring applies the formatter to every sink of every registered logger, this one included.
  REQUIRE(configureLogging("info", LogFormat::kJson));

  log->info("event=test path=\"a\\b\" newline=\n tab=\t control=\x01");
  log->flush();

  std::string line = captured.str();
  REQUIRE_FALSE(line.empty());
  auto parsed = nlohmann::json::parse(line);
  CHECK(parsed["level"] == "info");
  CHECK(parsed["logger"] == "common.test");
  CHECK(parsed["msg"] == "event=test path=\"a\\b\" newline=\n tab=\t control=\x01");
  CHECK(parsed["time"].get<std::string>().size() == 24);

  log->sinks().pop_back();
  REQUIRE(configureLogging("info", LogFormat::kText));
}

TEST_CASE("configureLogging refuses an unknown level", "[common][logging]") {
  CHECK_FALSE(configureLogging("loud", LogFormat::kText));
  CHECK(configureLogging("warn", LogFormat::kText));
  CHECK(configureLogging("info", LogFormat::kText));
}

}  // namespace siteplane

#include "controller/events/event_recorder.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/support/test_support.h"

namespace siteplane::events {
namespace {

using nlohmann::json;
using std::chrono::system_clock;

struct RecorderFixture {
  siteplane::testing::TempDir state;
  const system_clock::time_point start =
      std::chrono::floor<std::chrono::seconds>(system_clock::now());
  FakeClock clock{FakeClock::TimePoint(std::chrono::hours(1)), start};
  std::unique_ptr<store::Store> store;

  RecorderFixture() {
    auto opened = store::Store::create(state.path());
    REQUIRE(opened.isOk());
    store = std::move(opened).value();
  }
  EventRecorder recorder(size_t maxPerObject = 20) {
    return EventRecorder(
        *store,
        {.component = "test-controller", .maxEventsPerObject = maxPerObject, .clock = &clock});
  }
  std::vector<json> eventsOf(const std::string& name) {
    std::vector<json> found;
    for (const auto& item : store->list({"Event", std::nullopt, {}}).items)
      if ((*item)["involvedObject"]["name"] == name) found.push_back(*item);
    return found;
  }
};

const InvolvedObject kWww{"siteplane.io/v1alpha1", "Certificate", "default", "www", "uid-1"};

TEST_CASE("EventRecorder writes a core/v1 Event about the involved object",
          "[controller][events]") {
  RecorderFixture fixture;
  EventRecorder recorder = fixture.recorder();
  recorder.record(kWww, EventType::kNormal, "Issued", "certificate AB issued");

  auto events = fixture.eventsOf("www");
  REQUIRE(events.size() == 1);
  const json& event = events[0];
  CHECK(event["apiVersion"] == "v1");
  CHECK(event["kind"] == "Event");
  CHECK(event["metadata"]["namespace"] == "default");
  CHECK(event["metadata"]["name"].get<std::string>().rfind("www-", 0) == 0);
  CHECK(event["metadata"]["name"] ==
        EventRecorder::correlatedName(kWww, EventType::kNormal, "Issued", "certificate AB issued"));
  CHECK(event["involvedObject"] == json{{"apiVersion", "siteplane.io/v1alpha1"},
                                        {"kind", "Certificate"},
                                        {"namespace", "default"},
                                        {"name", "www"},
                                        {"uid", "uid-1"}});
  CHECK(event["type"] == "Normal");
  CHECK(event["reason"] == "Issued");
  CHECK(event["message"] == "certificate AB issued");
  CHECK(event["source"]["component"] == "test-controller");
  CHECK(event["count"] == 1);
  CHECK(event["firstTimestamp"] == event["lastTimestamp"]);
}

TEST_CASE("EventRecorder aggregates a repeat of the same reason and message into one Event",
          "[controller][events]") {
  RecorderFixture fixture;
  EventRecorder recorder = fixture.recorder();
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "file missing");
  auto first = fixture.eventsOf("www");
  REQUIRE(first.size() == 1);
  fixture.clock.advance(std::chrono::seconds(90));
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "file missing");

  auto events = fixture.eventsOf("www");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["count"] == 2);
  CHECK(events[0]["firstTimestamp"] == first[0]["firstTimestamp"]);
  CHECK(events[0]["lastTimestamp"] != first[0]["lastTimestamp"]);

  // Another message or another object is another Event.
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "key mismatch");
  InvolvedObject other = kWww;
  other.name = "api";
  recorder.record(other, EventType::kWarning, "ImportFailed", "file missing");
  CHECK(fixture.eventsOf("www").size() == 2);
  CHECK(fixture.eventsOf("api").size() == 1);
}

TEST_CASE("EventRecorder keeps at most the configured number of Events per object, newest first",
          "[controller][events]") {
  RecorderFixture fixture;
  EventRecorder recorder = fixture.recorder(3);
  for (int i = 0; i < 5; ++i)
    recorder.record(kWww, EventType::kNormal, "Renewed", "revision " + std::to_string(i));
  InvolvedObject other = kWww;
  other.name = "api";
  recorder.record(other, EventType::kNormal, "Issued", "one");

  auto events = fixture.eventsOf("www");
  REQUIRE(events.size() == 3);
  std::set<std::string> messages;
  for (const auto& event : events) messages.insert(event["message"].get<std::string>());
  CHECK(messages == std::set<std::string>{"revision 2", "revision 3", "revision 4"});
  CHECK(fixture.eventsOf("api").size() == 1);
}

TEST_CASE("EventRecorder names Events as DNS-1123 labels whatever the object is called",
          "[controller][events]") {
  InvolvedObject file{"siteplane.io/v1alpha1", "ManifestFile", "default",
                      "Sites/Web.Yaml" + std::string(80, 'x'), ""};
  std::string name = EventRecorder::correlatedName(file, EventType::kWarning, "Invalid", "m");
  CHECK(name.size() <= 63);
  CHECK(name.rfind("sites-web-yaml", 0) == 0);
  CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos);

  // The same name in another process: the hash is stable, so aggregation survives a restart.
  CHECK(EventRecorder::correlatedName(kWww, EventType::kNormal, "Issued", "x") ==
        EventRecorder::correlatedName(kWww, EventType::kNormal, "Issued", "x"));
  CHECK(EventRecorder::correlatedName(kWww, EventType::kNormal, "Issued", "x") !=
        EventRecorder::correlatedName(kWww, EventType::kWarning, "Issued", "x"));

  RecorderFixture fixture;
  EventRecorder recorder = fixture.recorder();
  recorder.record(file, EventType::kWarning, "Invalid", "m");
  CHECK(fixture.eventsOf(file.name).size() == 1);
}

TEST_CASE("EventRecorder rewrites and removes a named Event that tracks a state",
          "[controller][events]") {
  RecorderFixture fixture;
  EventRecorder recorder = fixture.recorder();
  InvolvedObject file{"siteplane.io/v1alpha1", "ManifestFile", "default", "a.yaml", ""};
  recorder.recordNamed("invalid-a", file, EventType::kWarning, "InvalidManifest", "line 1",
                       {{"siteplane.io/manifest-file", "a.yaml"}});
  recorder.recordNamed("invalid-a", file, EventType::kWarning, "InvalidManifest", "line 2",
                       {{"siteplane.io/manifest-file", "a.yaml"}});
  auto events = fixture.eventsOf("a.yaml");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["metadata"]["name"] == "invalid-a");
  CHECK(events[0]["message"] == "line 2");
  CHECK(events[0]["count"] == 2);
  CHECK(events[0]["metadata"]["annotations"]["siteplane.io/manifest-file"] == "a.yaml");
  CHECK_FALSE(events[0]["involvedObject"].contains("uid"));

  recorder.remove("default", "invalid-a");
  CHECK(fixture.eventsOf("a.yaml").empty());
  recorder.remove("default", "invalid-a");  // absent: nothing to do, no error
}

TEST_CASE("EventRecorder drops an Event the store refuses without failing the caller",
          "[controller][events]") {
  RecorderFixture fixture;
  EventRecorder recorder = fixture.recorder();
  InvolvedObject bad = kWww;
  bad.ns = "Not_A_Namespace";
  recorder.record(bad, EventType::kNormal, "Issued", "x");
  CHECK(fixture.store->list({"Event", std::nullopt, {}}).items.empty());
  recorder.record(kWww, EventType::kNormal, "Issued", "x");
  CHECK(fixture.eventsOf("www").size() == 1);
}

}  // namespace
}  // namespace siteplane::events

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

// Counts what the recorder asks of the store, and how many Events the store hands back.
class CountingEventStore final : public EventStore {
 public:
  explicit CountingEventStore(store::Store& store) : real_(store) {}
  Result<store::ObjectPtr> get(const ObjectKey& key) override {
    ++calls;
    return real_.get(key);
  }
  Result<store::ObjectPtr> create(json event) override {
    ++calls;
    return real_.create(std::move(event));
  }
  Result<store::ObjectPtr> update(json event) override {
    ++calls;
    return real_.update(std::move(event));
  }
  Result<store::ObjectPtr> remove(const ObjectKey& key) override {
    ++calls;
    ++removes;
    return real_.remove(key);
  }
  store::ObjectList list(const std::string& ns) override {
    ++calls;
    auto listed = real_.list(ns);
    eventsListed += listed.items.size();
    return listed;
  }

  size_t calls = 0, removes = 0, eventsListed = 0;

 private:
  StoreEventStore real_;
};

InvolvedObject certificate(int i) {
  return {"siteplane.io/v1alpha1", "Certificate", "default", "site-" + std::to_string(i),
          "uid-" + std::to_string(i)};
}

TEST_CASE("EventRecorder costs the same store work per Event however many Events exist",
          "[controller][events]") {
  RecorderFixture fixture;
  CountingEventStore counted(*fixture.store);
  EventRecorder recorder(counted, {.component = "test-controller", .clock = &fixture.clock});

  // What one new Event costs once `existing` Events are stored.
  auto costOfOneMore = [&](int existing) {
    const auto stored = fixture.store->list({"Event", std::nullopt, {}}).items.size();
    for (int i = static_cast<int>(stored); i < existing; ++i)
      recorder.record(certificate(i), EventType::kNormal, "Issued", "issued");
    const size_t callsBefore = counted.calls, listedBefore = counted.eventsListed;
    recorder.record(certificate(100000 + existing), EventType::kNormal, "Issued", "issued");
    return std::pair(counted.calls - callsBefore, counted.eventsListed - listedBefore);
  };
  const auto few = costOfOneMore(5);
  const auto many = costOfOneMore(300);
  CHECK(few == many);
  CHECK(many.first == 2);   // read it, create it
  CHECK(many.second == 0);  // no list
}

TEST_CASE("EventRecorder prunes by the Events a previous recorder left in the store",
          "[controller][events]") {
  RecorderFixture fixture;
  {
    EventRecorder before = fixture.recorder(3);
    for (int i = 0; i < 3; ++i)
      before.record(kWww, EventType::kNormal, "Renewed", "revision " + std::to_string(i));
  }
  CountingEventStore counted(*fixture.store);
  EventRecorder after(
      counted, {.component = "test-controller", .maxEventsPerObject = 3, .clock = &fixture.clock});
  after.record(kWww, EventType::kNormal, "Renewed", "revision 3");
  after.record(certificate(1), EventType::kNormal, "Issued", "issued");

  std::set<std::string> messages;
  for (const auto& event : fixture.eventsOf("www"))
    messages.insert(event["message"].get<std::string>());
  CHECK(messages == std::set<std::string>{"revision 1", "revision 2", "revision 3"});
  CHECK(counted.removes == 1);
  CHECK(counted.eventsListed == 4);  // the namespace, listed once when first written to
}

TEST_CASE("EventRecorder counts an aggregated repeat as the object's newest Event",
          "[controller][events]") {
  RecorderFixture fixture;
  EventRecorder recorder = fixture.recorder(2);
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "a");
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "b");
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "a");  // "a" is newest now
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "c");  // "b" goes

  std::set<std::string> messages;
  for (const auto& event : fixture.eventsOf("www"))
    messages.insert(event["message"].get<std::string>());
  CHECK(messages == std::set<std::string>{"a", "c"});

  // A named Event that is removed no longer counts: "d" fits beside "c".
  recorder.recordNamed("tracked", kWww, EventType::kWarning, "Broken", "x");  // "a" goes
  recorder.remove("default", "tracked");
  recorder.record(kWww, EventType::kWarning, "ImportFailed", "d");
  messages.clear();
  for (const auto& event : fixture.eventsOf("www"))
    messages.insert(event["message"].get<std::string>());
  CHECK(messages == std::set<std::string>{"c", "d"});
}

}  // namespace
}  // namespace siteplane::events

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "controller/apiserver/api_error.h"
#include "controller/store/store.h"
#include "tests/controller/store/store_fixture.h"

namespace siteplane::store {
namespace {

using namespace siteplane::store::testing;

// Collects events; the store calls it one event at a time, so no lock is needed for `events` as
// long as the test reads it only after the writes returned on the same thread.
struct Recorder {
  std::vector<WatchEvent> events;
  WatchCallback callback() {
    return [this](const WatchEvent& event) { events.push_back(event); };
  }
  std::vector<std::string> summary() const {
    std::vector<std::string> out;
    for (const auto& event : events) {
      out.push_back(std::string(toString(event.type)) + " " + event.key.name + " " +
                    std::to_string(event.resourceVersion));
    }
    return out;
  }
};

TEST_CASE("Store watch delivers ADDED, MODIFIED and DELETED in resourceVersion order",
          "[controller][store][watch]") {
  StoreFixture f;
  Recorder recorder;
  Subscription subscription = f.store->subscribe(recorder.callback());

  auto created = f.store->createObject(site("www"));
  REQUIRE(created.isOk());
  json changed = **created;
  changed["spec"]["root"] = "/new";
  REQUIRE(f.store->updateObject(changed).isOk());
  REQUIRE(f.store->updateObject(changed).isOk() == false);  // stale now: no event
  json status = site("www");
  status["status"] = {{"siteId", 1}};
  REQUIRE(f.store->updateStatus(status).isOk());
  REQUIRE(f.store->updateStatus(status).isOk());  // no-op: no event
  REQUIRE(f.store->removeObject(siteKey("www")).isOk());

  CHECK(recorder.summary() == std::vector<std::string>{"ADDED www 1", "MODIFIED www 2",
                                                       "MODIFIED www 3", "DELETED www 4"});
  // Each event carries the object as stored; DELETED carries the last state.
  CHECK(recorder.events[1].object->at("spec")["root"] == "/new");
  CHECK(recorder.events[3].object->at("status")["siteId"] == 1);
  CHECK(versionOf(*recorder.events[3].object) == "4");
}

TEST_CASE("Store watch only reports changes made after subscribing, until cancelled",
          "[controller][store][watch]") {
  StoreFixture f;
  REQUIRE(f.store->createObject(site("before")).isOk());
  Recorder recorder;
  Subscription subscription = f.store->subscribe(recorder.callback());
  REQUIRE(f.store->createObject(site("during")).isOk());
  subscription.cancel();
  CHECK_FALSE(subscription.active());
  REQUIRE(f.store->createObject(site("after")).isOk());
  CHECK(recorder.summary() == std::vector<std::string>{"ADDED during 2"});
}

TEST_CASE("Store watch events from concurrent writers arrive in order, one callback at a time",
          "[controller][store][watch]") {
  StoreFixture f;
  std::atomic<int> inCallback{0};
  std::atomic<bool> overlapped{false};
  std::vector<uint64_t> first, second;  // written only inside callbacks, which never overlap
  Subscription a = f.store->subscribe([&](const WatchEvent& event) {
    if (inCallback.fetch_add(1) != 0) overlapped = true;
    first.push_back(event.resourceVersion);
    inCallback.fetch_sub(1);
  });
  Subscription b = f.store->subscribe([&](const WatchEvent& event) {
    if (inCallback.fetch_add(1) != 0) overlapped = true;
    second.push_back(event.resourceVersion);
    inCallback.fetch_sub(1);
  });

  constexpr int kWriters = 4;
  constexpr int kWritesEach = 10;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWritesEach; ++i) {
        std::string name = "w";
        name += std::to_string(w * 100 + i);
        if (!f.store->createObject(site(name)).isOk()) return;
      }
    });
  }
  for (auto& writer : writers) writer.join();
  // Every writer delivers what is queued before returning, so all events have arrived.
  a.cancel();
  b.cancel();

  CHECK_FALSE(overlapped);
  REQUIRE(first.size() == kWriters * kWritesEach);
  for (size_t i = 0; i < first.size(); ++i) CHECK(first[i] == i + 1);
  CHECK(second == first);
}

TEST_CASE("Store delivers the event of a write made inside a callback after the callback returns",
          "[controller][store][watch]") {
  StoreFixture f;
  std::vector<std::string> trace;
  int depth = 0;
  Subscription subscription = f.store->subscribe([&](const WatchEvent& event) {
    ++depth;
    trace.push_back("begin " + std::string(toString(event.type)) + " " + event.key.name +
                    " depth=" + std::to_string(depth));
    if (event.type == WatchEvent::Type::kAdded && event.key.name == "www") {
      json status = *event.object;
      status["status"] = {{"seen", true}};
      auto written = f.store->updateStatus(status);  // a reconciler writing status from a callback
      trace.push_back(written.isOk() ? "status written" : "status failed");
    }
    trace.push_back("end " + event.key.name);
    --depth;
  });
  REQUIRE(f.store->createObject(site("www")).isOk());
  CHECK(trace == std::vector<std::string>{"begin ADDED www depth=1", "status written", "end www",
                                          "begin MODIFIED www depth=1", "end www"});
}

TEST_CASE("Store watch from a resourceVersion replays history, then continues live",
          "[controller][store][watch]") {
  StoreFixture f;
  auto a = f.store->createObject(site("a"));
  REQUIRE(a.isOk());
  REQUIRE(f.store->createObject(site("b")).isOk());
  REQUIRE(f.store->removeObject(siteKey("a")).isOk());

  Recorder recorder;
  auto subscription = f.store->watch(versionNumber(**a), recorder.callback());
  REQUIRE(subscription.isOk());
  REQUIRE(f.store->createObject(site("c")).isOk());
  CHECK(recorder.summary() == std::vector<std::string>{"ADDED b 2", "DELETED a 3", "ADDED c 4"});

  Recorder fromNow;
  auto live = f.store->watch(f.store->resourceVersion(), fromNow.callback());
  REQUIRE(live.isOk());
  REQUIRE(f.store->createObject(site("d")).isOk());
  CHECK(fromNow.summary() == std::vector<std::string>{"ADDED d 5"});

  auto future = f.store->watch(99, fromNow.callback());
  REQUIRE_FALSE(future.isOk());
  CHECK(future.code() == ErrorCode::kInvalid);
}

TEST_CASE("Store eventsSince returns later events and Expired once history has moved on",
          "[controller][store][watch]") {
  StoreOptions options;
  options.historyLimit = 3;
  StoreFixture f;
  f.reopen(options);
  for (const char* name : {"a", "b", "c", "d", "e"})
    REQUIRE(f.store->createObject(site(name)).isOk());

  auto recent = f.store->eventsSince(3);
  REQUIRE(recent.isOk());
  REQUIRE(recent->size() == 2);
  CHECK((*recent)[0].key.name == "d");
  CHECK((*recent)[1].key.name == "e");
  CHECK(f.store->eventsSince(5)->empty());

  auto oldest = f.store->eventsSince(2);  // events 3, 4, 5 are retained
  REQUIRE(oldest.isOk());
  CHECK(oldest->size() == 3);

  auto tooOld = f.store->eventsSince(1);
  REQUIRE_FALSE(tooOld.isOk());
  CHECK(tooOld.code() == ErrorCode::kExpired);
  CHECK(apiserver::httpStatusOf(tooOld.code()) == 410);
  CHECK(tooOld.message() == "too old resource version: 1 (2)");
  Recorder recorder;
  CHECK(f.store->watch(0, recorder.callback()).code() == ErrorCode::kExpired);
}

TEST_CASE("Store history does not survive a restart: older versions are Expired",
          "[controller][store][watch]") {
  StoreFixture f;
  REQUIRE(f.store->createObject(site("a")).isOk());
  REQUIRE(f.store->createObject(site("b")).isOk());
  f.reopen();
  // Events from before the restart are gone; a watcher lists again and watches from the list's
  // resourceVersion.
  CHECK(f.store->eventsSince(2).code() == ErrorCode::kExpired);
  uint64_t listed = f.store->list({"Site", std::nullopt, {}}).resourceVersion;
  CHECK(listed >= 2);
  auto current = f.store->eventsSince(listed);
  REQUIRE(current.isOk());
  CHECK(current->empty());
  REQUIRE(f.store->createObject(site("c")).isOk());
  auto after = f.store->eventsSince(listed);
  REQUIRE(after.isOk());
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].key.name == "c");
}

TEST_CASE("Store keeps delivering to other subscribers when a callback throws",
          "[controller][store][watch]") {
  StoreFixture f;
  Subscription thrower =
      f.store->subscribe([](const WatchEvent&) { throw std::runtime_error("subscriber bug"); });
  Recorder recorder;
  Subscription subscription = f.store->subscribe(recorder.callback());
  REQUIRE(f.store->createObject(site("www")).isOk());
  CHECK(recorder.summary() == std::vector<std::string>{"ADDED www 1"});
}

TEST_CASE("A subscription cancelled from inside its own callback gets no further events",
          "[controller][store][watch]") {
  StoreFixture f;
  int calls = 0;
  Subscription subscription;
  subscription = f.store->subscribe([&](const WatchEvent&) {
    ++calls;
    subscription.cancel();
  });
  REQUIRE(f.store->createObject(site("a")).isOk());
  REQUIRE(f.store->createObject(site("b")).isOk());
  CHECK(calls == 1);
}

}  // namespace
}  // namespace siteplane::store

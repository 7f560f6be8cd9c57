#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/logging.h"
#include "controller/store/store.h"
#include "tests/controller/store/store_fixture.h"

namespace siteplane::store {
namespace {

namespace fs = std::filesystem;
using namespace siteplane::store::testing;

// Captures what the store logs while it is alive.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)) {
    logger("controller.store")->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = logger("controller.store")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string text() const { return stream_.str(); }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST_CASE("Store reloads objects, status and resourceVersion after a reopen",
          "[controller][store][persistence]") {
  StoreFixture f;
  auto a = f.store->createObject(site("a", {{"root", "/srv/a"}}, {{"tier", "web"}}));
  REQUIRE(a.isOk());
  json status = site("a");
  status["status"] = {{"siteId", 1}};
  auto withStatus = f.store->updateStatus(status);
  REQUIRE(withStatus.isOk());
  json other = site("b");
  other["metadata"]["namespace"] = "staging";
  REQUIRE(f.store->createObject(other).isOk());
  uint64_t version = f.store->resourceVersion();

  f.reopen();
  CHECK(f.store->resourceVersion() >= version);
  auto reloaded = f.store->get(siteKey("a"));
  REQUIRE(reloaded.isOk());
  CHECK(**reloaded == **withStatus);
  CHECK(f.store->get(ObjectKey{"Site", "staging", "b"}).isOk());

  auto next = f.store->createObject(site("c"));
  REQUIRE(next.isOk());
  CHECK(versionNumber(**next) > version);

  // One file per object, private to the server.
  fs::path file = f.state.path() / "objects" / "Site" / "default" / "a.json";
  REQUIRE(fs::exists(file));
  struct stat info {};
  REQUIRE(::stat(file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("Store resourceVersion never goes backwards or repeats across restarts",
          "[controller][store][persistence]") {
  StoreFixture f;
  REQUIRE(f.store->createObject(site("a")).isOk());
  REQUIRE(f.store->createObject(site("b")).isOk());
  REQUIRE(f.store->removeObject(siteKey("b")).isOk());
  REQUIRE(f.store->resourceVersion() == 3);

  // The newest change was a deletion, which leaves no object file behind.
  f.reopen();
  uint64_t afterFirstRestart = f.store->resourceVersion();
  CHECK(afterFirstRestart >= 3);
  CHECK_FALSE(f.store->get(siteKey("b")).isOk());

  REQUIRE(f.store->removeObject(siteKey("a")).isOk());
  uint64_t deletedAt = f.store->resourceVersion();
  CHECK(deletedAt > afterFirstRestart);
  f.reopen();
  CHECK(f.store->resourceVersion() >= deletedAt);
  CHECK(f.store->list({}).items.empty());
  auto created = f.store->createObject(site("c"));
  REQUIRE(created.isOk());
  CHECK(versionNumber(**created) > deletedAt);

  // Versions stay monotonic through many restarts, each with a write.
  uint64_t last = versionNumber(**created);
  for (int restart = 0; restart < 3; ++restart) {
    f.reopen();
    json update = site("c", {{"root", "/v" + std::to_string(restart)}});
    auto updated = f.store->updateObject(update);
    REQUIRE(updated.isOk());
    CHECK(versionNumber(**updated) > last);
    last = versionNumber(**updated);
  }
}

TEST_CASE("Store skips corrupt and misplaced files, reports their paths and loads the rest",
          "[controller][store][persistence]") {
  StoreFixture f;
  REQUIRE(f.store->createObject(site("good")).isOk());
  REQUIRE(f.store->createObject(site("torn")).isOk());
  REQUIRE(f.store->createObject(site("moved")).isOk());
  f.store.reset();

  fs::path dir = f.state.path() / "objects" / "Site" / "default";
  std::string torn = siteplane::testing::readFile(dir / "torn.json");
  std::ofstream(dir / "torn.json", std::ios::trunc) << torn.substr(0, torn.size() / 2);
  fs::rename(dir / "moved.json", dir / "elsewhere.json");
  std::ofstream(dir / "half-written.json.tmp") << "{\"kind\":";
  // Valid JSON, right name, but not something the store wrote: no server-managed metadata.
  std::ofstream(dir / "handmade.json")
      << R"({"apiVersion":"v1","kind":"Site","metadata":{"name":"handmade","namespace":"default","resourceVersion":"2"}})";
  std::ofstream(dir / "notes.txt") << "hello";
  std::ofstream(f.state.path() / "objects" / "resource-version.tmp") << "9";

  LogCapture log;
  f.store = f.open();
  CHECK(f.store->get(siteKey("good")).isOk());
  CHECK_FALSE(f.store->get(siteKey("torn")).isOk());
  CHECK_FALSE(f.store->get(siteKey("moved")).isOk());
  CHECK_FALSE(f.store->get(siteKey("elsewhere")).isOk());
  // Skipped files may hold the newest versions; the reserved ceiling still covers them.
  CHECK(f.store->resourceVersion() >= 3);
  std::string text = log.text();
  CHECK_THAT(text, Catch::Contains("state_file_skipped path=" + (dir / "torn.json").string() +
                                   " error=\"not valid JSON (corrupt or partial file)\""));
  CHECK_THAT(text, Catch::Contains("state_file_skipped path=" + (dir / "elsewhere.json").string() +
                                   " error=\"metadata.name does not match the file name\""));
  CHECK_THAT(text, Catch::Contains("state_file_skipped path=" + (dir / "notes.txt").string()));
  CHECK_THAT(text, Catch::Contains("state_file_skipped path=" + (dir / "handmade.json").string() +
                                   " error=\"metadata.uid is missing\""));
  CHECK_FALSE(f.store->get(siteKey("handmade")).isOk());
  CHECK_THAT(text, Catch::Contains("skipped=4"));
  // Interrupted writes were never acknowledged: their temporary files are cleaned up.
  CHECK_FALSE(fs::exists(dir / "half-written.json.tmp"));
  CHECK_FALSE(fs::exists(f.state.path() / "objects" / "resource-version.tmp"));

  // The store works on: a skipped object's key can be written again, with a new version.
  auto recreated = f.store->createObject(site("torn"));
  REQUIRE(recreated.isOk());
  CHECK(versionNumber(**recreated) > 3);
}

}  // namespace
}  // namespace siteplane::store

namespace siteplane::store {
namespace {

using namespace siteplane::store::testing;

TEST_CASE("Store refuses a state directory another store holds until it is released",
          "[controller][store][persistence]") {
  StoreFixture f;
  REQUIRE(f.store->createObject(site("www")).isOk());
  auto second = Store::create(f.state.path());
  REQUIRE_FALSE(second.isOk());
  CHECK(second.message() == "opening the store: state directory " + f.state.path().string() +
                                " is in use by another siteplane process (lock " +
                                (f.state.path() / "objects" / "lock").string() + ")");
  f.store.reset();
  auto reopened = Store::create(f.state.path());
  REQUIRE(reopened.isOk());
  CHECK((*reopened)->get(siteKey("www")).isOk());
}

}  // namespace
}  // namespace siteplane::store

#include "common/event_loop/directory_watches.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>

#include "common/event_loop/event_loop_thread.h"
#include "tests/support/test_support.h"

namespace siteplane::event_loop {
namespace {

namespace fs = std::filesystem;
using siteplane::testing::TempDir;
using siteplane::testing::waitUntil;

// DirectoryWatches on a running loop; every call goes through the loop's thread, as the class
// requires, and the events it reports are collected for the test's thread.
class WatchFixture {
 public:
  WatchFixture() {
    auto created = EventLoopThread::create("watch-test");
    REQUIRE(created);
    loop_ = std::move(created).value();
    watches_ = std::make_unique<DirectoryWatches>(
        loop_->loop(), "test", [this](const std::string& directory, std::string_view name, int) {
          std::lock_guard lock(mutex_);
          events_.insert(directory + "|" + std::string(name));
        });
    REQUIRE(loop_->start());
  }
  ~WatchFixture() {
    loop_->stop([this] { watches_.reset(); });
  }

  template <typename F>
  auto onLoop(F call) {
    std::packaged_task<decltype(call(std::declval<DirectoryWatches&>()))(DirectoryWatches&)> task(
        call);
    auto result = task.get_future();
    REQUIRE(loop_->post([&] { task(*watches_); }));
    return result.get();
  }
  bool sawEvent(const std::string& directory, const std::string& name) {
    return waitUntil([&] {
      std::lock_guard lock(mutex_);
      return events_.count(directory + "|" + name) != 0;
    });
  }
  void forget() {
    std::lock_guard lock(mutex_);
    events_.clear();
  }

 private:
  std::unique_ptr<EventLoopThread> loop_;
  std::unique_ptr<DirectoryWatches> watches_;
  std::mutex mutex_;
  std::set<std::string> events_;
};

TEST_CASE("DirectoryWatches reports a change in a watched directory with the entry's name",
          "[common][event_loop][watch]") {
  TempDir dir;
  const std::string path = dir.path().string();
  WatchFixture fixture;
  REQUIRE(fixture.onLoop([&](DirectoryWatches& w) { return w.watch(path); }));
  dir.write("site.crt", "one");
  CHECK(fixture.sawEvent(path, "site.crt"));
}

TEST_CASE("DirectoryWatches refuses a path that is no directory, and drops its watch",
          "[common][event_loop][watch]") {
  TempDir dir;
  const std::string missing = (dir.path() / "missing").string();
  const std::string file = dir.write("plain", "x").string();
  WatchFixture fixture;
  CHECK_FALSE(fixture.onLoop([&](DirectoryWatches& w) { return w.watch(missing); }));
  CHECK_FALSE(fixture.onLoop([&](DirectoryWatches& w) { return w.watch(file); }));
  const std::string sub = (dir.path() / "sub").string();
  fs::create_directory(sub);
  REQUIRE(fixture.onLoop([&](DirectoryWatches& w) { return w.watch(sub); }));
  fs::remove_all(sub);
  CHECK_FALSE(fixture.onLoop([&](DirectoryWatches& w) { return w.watch(sub); }));
  CHECK(fixture.onLoop([&](DirectoryWatches& w) { return w.size(); }) == 0);
}

TEST_CASE("DirectoryWatches re-arms a watch when its path names another directory by now",
          "[common][event_loop][watch]") {
  TempDir dir;
  const fs::path sub = dir.path() / "conf";
  fs::create_directory(sub);
  WatchFixture fixture;
  REQUIRE(fixture.onLoop([&](DirectoryWatches& w) { return w.watch(sub.string()); }));
  // Replaced: the old watch follows the old inode and would never see the new directory.
  fs::rename(sub, dir.path() / "conf.old");
  fs::create_directory(sub);
  REQUIRE(fixture.onLoop([&](DirectoryWatches& w) { return w.watch(sub.string()); }));
  fixture.forget();
  dir.write("conf/site.yaml", "kind: Site");
  CHECK(fixture.sawEvent(sub.string(), "site.yaml"));
  CHECK(fixture.onLoop([&](DirectoryWatches& w) { return w.size(); }) == 1);
}

TEST_CASE("DirectoryWatches::watchExactly drops the directories it is not given",
          "[common][event_loop][watch]") {
  TempDir dir;
  std::map<std::string, DirectoryIdentity> wanted;
  for (const char* name : {"a", "b", "c"}) {
    fs::path sub = dir.path() / name;
    fs::create_directory(sub);
    struct stat info {};
    REQUIRE(::stat(sub.c_str(), &info) == 0);
    wanted[sub.string()] = {info.st_dev, info.st_ino};
  }
  WatchFixture fixture;
  fixture.onLoop([&](DirectoryWatches& w) {
    w.watchExactly(wanted);
    return 0;
  });
  CHECK(fixture.onLoop([&](DirectoryWatches& w) { return w.size(); }) == 3);
  wanted.erase((dir.path() / "b").string());
  fixture.onLoop([&](DirectoryWatches& w) {
    w.watchExactly(wanted);
    return 0;
  });
  CHECK(fixture.onLoop([&](DirectoryWatches& w) {
    return w.size() == 2 && !w.watching((dir.path() / "b").string()) &&
           w.watching((dir.path() / "a").string());
  }));
}

}  // namespace
}  // namespace siteplane::event_loop

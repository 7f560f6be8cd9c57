#include "controller/source/file_watcher.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <mutex>

#include "tests/support/test_support.h"

namespace siteplane::source {
namespace {

namespace fs = std::filesystem;
using siteplane::testing::TempDir;
using siteplane::testing::waitUntil;

// Counts the notifications per owner; the watcher calls it on its own thread.
class Notifications {
 public:
  void add(const std::string& owner) {
    std::lock_guard lock(mutex_);
    ++counts_[owner];
  }
  int count(const std::string& owner) const {
    std::lock_guard lock(mutex_);
    auto found = counts_.find(owner);
    return found == counts_.end() ? 0 : found->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> counts_;
};

struct WatcherFixture {
  TempDir dir;
  Notifications notifications;
  std::unique_ptr<FileWatcher> watcher = [this] {
    auto created =
        FileWatcher::create({[this](const std::string& owner) { notifications.add(owner); }});
    if (!created) throw std::runtime_error(created.message());
    return std::move(created).value();
  }();

  fs::path write(const std::string& relative, const std::string& content) const {
    return dir.write(relative, content);
  }
  // Registers and waits until the watcher has applied it.
  void watch(const std::string& owner, std::vector<fs::path> files, size_t directories) {
    watcher->watch(owner, std::move(files));
    REQUIRE(waitUntil(
        [&] { return watcher->applied() && watcher->watchedDirectories() == directories; }));
  }
};

TEST_CASE("FileWatcher notifies the owner of a file rewritten in place or replaced by a rename",
          "[controller][source][watch]") {
  WatcherFixture fixture;
  auto crt = fixture.write("tls/site.crt", "one");
  auto key = fixture.write("tls/site.key", "one");
  auto other = fixture.write("tls/other.crt", "other");
  fixture.watch("Certificate/default/site", {crt, key}, 1);
  fixture.watch("Certificate/default/other", {other}, 1);

  // In place: truncate and write, as `cat new > file` does.
  std::ofstream(crt, std::ios::trunc) << "two";
  CHECK(waitUntil([&] { return fixture.notifications.count("Certificate/default/site") > 0; }));

  // The editor pattern: a temporary file renamed over the key.
  int before = fixture.notifications.count("Certificate/default/site");
  fixture.write("tls/.site.key.swp", "two");
  fs::rename(fixture.dir.path() / "tls/.site.key.swp", key);
  CHECK(
      waitUntil([&] { return fixture.notifications.count("Certificate/default/site") > before; }));

  // A file nobody reads notifies nobody. Events of one directory arrive in order, so once a
  // later change of another owner's file is seen, every earlier event has been handled.
  auto sync = [&] {
    int seen = fixture.notifications.count("Certificate/default/other");
    std::ofstream(other, std::ios::trunc) << "changed " << seen;
    REQUIRE(
        waitUntil([&] { return fixture.notifications.count("Certificate/default/other") > seen; }));
  };
  sync();
  int settled = fixture.notifications.count("Certificate/default/site");
  fixture.write("tls/unrelated.txt", "noise");
  sync();
  CHECK(fixture.notifications.count("Certificate/default/site") == settled);
}

TEST_CASE("FileWatcher follows a Kubernetes Secret mount's ..data symlink flip",
          "[controller][source][watch]") {
  WatcherFixture fixture;
  // What the kubelet's AtomicWriter lays out: tls.crt -> ..data/tls.crt, ..data -> ..<version>.
  fixture.write("mount/..v1/tls.crt", "one");
  auto mount = fixture.dir.path() / "mount";
  fs::create_directory_symlink("..v1", mount / "..data");
  fs::create_symlink("..data/tls.crt", mount / "tls.crt");
  // The link's directory and the directory it resolves to.
  fixture.watch("Certificate/default/mounted", {mount / "tls.crt"}, 2);

  fixture.write("mount/..v2/tls.crt", "two");
  fs::create_directory_symlink("..v2", mount / "..data_tmp");
  fs::rename(mount / "..data_tmp", mount / "..data");
  CHECK(waitUntil([&] { return fixture.notifications.count("Certificate/default/mounted") > 0; }));

  // Registering again (the owner's next look) moves the watch to the new version's directory;
  // the old one goes.
  fs::remove_all(mount / "..v1");
  fixture.watch("Certificate/default/mounted", {mount / "tls.crt"}, 2);
}

TEST_CASE("FileWatcher forgets an owner that registers no files and says nothing after stop",
          "[controller][source][watch]") {
  WatcherFixture fixture;
  auto gone = fixture.write("a/site.crt", "one");
  auto sync = fixture.write("a/sync.crt", "one");
  auto kept = fixture.write("b/site.crt", "one");
  fixture.watch("Certificate/default/gone", {gone}, 1);
  fixture.watch("Certificate/default/kept", {kept}, 2);
  fixture.watch("Certificate/default/sync", {sync}, 2);
  fixture.watch("Certificate/default/gone", {}, 2);  // a/ stays watched for sync

  // Events of one directory arrive in order: once the later change of sync (in a/ too) is seen,
  // the change of gone has been handled, and must have notified nobody.
  std::ofstream(gone, std::ios::trunc) << "two";
  std::ofstream(sync, std::ios::trunc) << "two";
  REQUIRE(waitUntil([&] { return fixture.notifications.count("Certificate/default/sync") > 0; }));
  CHECK(fixture.notifications.count("Certificate/default/gone") == 0);
  std::ofstream(kept, std::ios::trunc) << "two";
  CHECK(waitUntil([&] { return fixture.notifications.count("Certificate/default/kept") > 0; }));

  // A directory that does not exist cannot be watched; the owner's periodic look covers it.
  fixture.watcher->watch("Certificate/default/missing", {fixture.dir.path() / "nowhere/x.crt"});
  fixture.watch("Certificate/default/sync", {}, 1);
  fixture.watch("Certificate/default/kept", {kept}, 1);

  // After stop, nothing: a second watcher on the same file is the witness that the change
  // happened and was delivered to whoever still watches it.
  WatcherFixture witness;
  witness.watch("witness", {kept}, 1);
  fixture.watcher->stop();
  fixture.watcher->stop();
  int after = fixture.notifications.count("Certificate/default/kept");
  fixture.watcher->watch("Certificate/default/late", {kept});
  std::ofstream(kept, std::ios::trunc) << "three";
  REQUIRE(waitUntil([&] { return witness.notifications.count("witness") > 0; }));
  CHECK(fixture.notifications.count("Certificate/default/kept") == after);
  CHECK(fixture.notifications.count("Certificate/default/late") == 0);
}

}  // namespace
}  // namespace siteplane::source

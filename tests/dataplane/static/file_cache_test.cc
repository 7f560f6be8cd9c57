#include "dataplane/static/file_cache.h"

#include <catch2/catch.hpp>

#include "tests/dataplane/static/static_fixture.h"

namespace siteplane::staticfiles {
namespace {

using namespace std::chrono_literals;
using testing::ManualClock;
using testing::SiteDir;

FileCacheOptions options(size_t maxEntries = 16,
                         std::chrono::milliseconds revalidateAfter = 1000ms) {
  FileCacheOptions result;
  result.maxEntries = maxEntries;
  result.revalidateAfter = revalidateAfter;
  result.maxInMemoryBytes = 1024;
  return result;
}

std::string contents(const FileCache::Lookup& lookup) {
  REQUIRE(lookup.status == 0);
  return testing::readAll(*lookup.file);
}

}  // namespace

TEST_CASE("FileCache serves a second lookup from the cache", "[dataplane][static][cache]") {
  SiteDir site;
  site.write("a.txt", "alpha");
  ManualClock clock;
  FileCache cache(options(), clock.clock());

  auto first = cache.find(site.root(), "/a.txt");
  auto second = cache.find(site.root(), "/a.txt");
  CHECK(contents(first) == "alpha");
  CHECK(second.file == first.file);
  CHECK(cache.stats().misses == 1);
  CHECK(cache.stats().hits == 1);
  CHECK(cache.stats().revalidations == 0);
  CHECK(cache.size() == 1);
}

TEST_CASE("FileCache keys entries by root and path", "[dataplane][static][cache]") {
  SiteDir one;
  SiteDir two;
  one.write("a.txt", "site one");
  two.write("a.txt", "site two");
  one.write("d/index.html", "index");
  FileCache cache(options());

  CHECK(contents(cache.find(one.root(), "/a.txt")) == "site one");
  CHECK(contents(cache.find(two.root(), "/a.txt")) == "site two");
  CHECK(contents(cache.find(one.root(), "/d/")) == "index");
  CHECK(cache.find(one.root(), "/d").status == 301);
  CHECK(cache.size() == 3);
}

TEST_CASE("FileCache revalidates a changed file only after the validity period",
          "[dataplane][static][cache]") {
  SiteDir site;
  site.write("a.txt", "version one");
  ManualClock clock;
  FileCache cache(options(16, 1000ms), clock.clock());
  auto original = cache.find(site.root(), "/a.txt");
  REQUIRE(contents(original) == "version one");

  site.write("a.txt", "version two, longer");
  clock.advance(999ms);
  CHECK(contents(cache.find(site.root(), "/a.txt")) == "version one");
  CHECK(cache.stats().revalidations == 0);

  clock.advance(1ms);
  CHECK(contents(cache.find(site.root(), "/a.txt")) == "version two, longer");
  CHECK(cache.stats().revalidations == 1);
  CHECK(cache.stats().invalidations == 1);
  CHECK(cache.stats().misses == 2);
  // The response that still holds the old entry keeps its bytes.
  CHECK(testing::readAll(*original.file) == "version one");

  // An unchanged file costs one stat per period and stays the same entry.
  auto again = cache.find(site.root(), "/a.txt");
  clock.advance(1500ms);
  CHECK(cache.find(site.root(), "/a.txt").file == again.file);
  CHECK(cache.stats().revalidations == 2);
  CHECK(cache.stats().invalidations == 1);
}

TEST_CASE("FileCache notices a same-size rewrite and a replaced file",
          "[dataplane][static][cache]") {
  SiteDir site;
  site.write("a.txt", "aaaa");
  site.touch("a.txt", 1000000);
  ManualClock clock;
  FileCache cache(options(16, 0ms), clock.clock());
  REQUIRE(contents(cache.find(site.root(), "/a.txt")) == "aaaa");

  site.write("a.txt", "bbbb");
  site.touch("a.txt", 1000001);
  CHECK(contents(cache.find(site.root(), "/a.txt")) == "bbbb");

  // Atomic replacement by rename: new inode, even with the same size and mtime.
  site.write("a.tmp", "cccc");
  site.touch("a.tmp", 1000001);
  std::filesystem::rename(site.root() / "a.tmp", site.root() / "a.txt");
  CHECK(contents(cache.find(site.root(), "/a.txt")) == "cccc");
  CHECK(cache.stats().invalidations == 2);
}

TEST_CASE("FileCache forgets a file that disappears", "[dataplane][static][cache]") {
  SiteDir site;
  site.write("gone.txt", "here");
  ManualClock clock;
  FileCache cache(options(16, 500ms), clock.clock());
  REQUIRE(cache.find(site.root(), "/gone.txt").status == 0);

  std::filesystem::remove(site.root() / "gone.txt");
  CHECK(cache.find(site.root(), "/gone.txt").status == 0);  // still trusted
  clock.advance(500ms);
  CHECK(cache.find(site.root(), "/gone.txt").status == 404);
  CHECK(cache.size() == 0);

  // Misses are not cached: a file that appears is served at once.
  site.write("gone.txt", "back");
  CHECK(contents(cache.find(site.root(), "/gone.txt")) == "back");
}

TEST_CASE("FileCache refuses a cached symlink retargeted outside the root",
          "[dataplane][static][cache]") {
  SiteDir site;
  site.write("real.txt", "inside");
  site.writeOutside("secret.txt", "secret");
  site.symlink("link.txt", "real.txt");
  ManualClock clock;
  FileCache cache(options(16, 100ms), clock.clock());
  REQUIRE(contents(cache.find(site.root(), "/link.txt")) == "inside");

  std::filesystem::remove(site.root() / "link.txt");
  site.symlink("link.txt", "../secret.txt");
  clock.advance(100ms);
  CHECK(cache.find(site.root(), "/link.txt").status == 403);
}

TEST_CASE("FileCache evicts the least recently used entry", "[dataplane][static][cache]") {
  SiteDir site;
  site.write("a.txt", "a");
  site.write("b.txt", "b");
  site.write("c.txt", "c");
  FileCache cache(options(2));

  REQUIRE(cache.find(site.root(), "/a.txt").status == 0);
  REQUIRE(cache.find(site.root(), "/b.txt").status == 0);
  REQUIRE(cache.find(site.root(), "/a.txt").status == 0);  // a is now the most recent
  REQUIRE(cache.find(site.root(), "/c.txt").status == 0);  // evicts b
  CHECK(cache.size() == 2);
  CHECK(cache.stats().evictions == 1);
  CHECK(cache.stats().misses == 3);

  REQUIRE(cache.find(site.root(), "/a.txt").status == 0);
  REQUIRE(cache.find(site.root(), "/c.txt").status == 0);
  CHECK(cache.stats().hits == 3);
  REQUIRE(cache.find(site.root(), "/b.txt").status == 0);  // b comes back as a miss, evicting a
  CHECK(cache.stats().misses == 4);
  CHECK(cache.stats().evictions == 2);
}

TEST_CASE("FileCache keeps an evicted file readable while a response holds it",
          "[dataplane][static][cache]") {
  SiteDir site;
  const std::string large(200 * 1024, 'x');
  site.write("large.bin", large);
  site.write("other.txt", "other");
  FileCache cache(options(1));

  auto held = cache.find(site.root(), "/large.bin");
  REQUIRE(held.status == 0);
  REQUIRE_FALSE(held.file->inMemory());
  REQUIRE(cache.find(site.root(), "/other.txt").status == 0);
  CHECK(cache.stats().evictions == 1);
  CHECK(held.file.use_count() == 1);  // the cache let go; the response owns the descriptor now
  CHECK(testing::readAll(*held.file) == large);

  cache.clear();
  CHECK(cache.size() == 0);
}

TEST_CASE("FileCache with no entries resolves every lookup", "[dataplane][static][cache]") {
  SiteDir site;
  site.write("a.txt", "a");
  FileCache cache(options(0));
  auto first = cache.find(site.root(), "/a.txt");
  auto second = cache.find(site.root(), "/a.txt");
  REQUIRE(first.status == 0);
  REQUIRE(second.status == 0);
  CHECK(first.file != second.file);
  CHECK(cache.size() == 0);
  CHECK(cache.stats().misses == 2);
}

TEST_CASE("FileCache bounds the bytes of in-memory files", "[dataplane][static][cache]") {
  SiteDir site;
  site.write("a.txt", std::string(400, 'a'));
  site.write("b.txt", std::string(400, 'b'));
  site.write("c.txt", std::string(400, 'c'));
  site.write("large.bin", std::string(4000, 'l'));  // streamed: costs a descriptor, not memory
  FileCacheOptions limited = options();
  limited.maxCachedBytes = 1000;
  FileCache cache(limited);

  REQUIRE(cache.find(site.root(), "/a.txt").status == 0);
  REQUIRE(cache.find(site.root(), "/b.txt").status == 0);
  REQUIRE(cache.find(site.root(), "/large.bin").status == 0);
  CHECK(cache.cachedBytes() == 800);
  CHECK(cache.stats().evictions == 0);

  REQUIRE(cache.find(site.root(), "/c.txt").status == 0);  // 1200 bytes: a goes
  CHECK(cache.cachedBytes() == 800);
  CHECK(cache.size() == 3);
  CHECK(cache.stats().evictions == 1);
  REQUIRE(cache.find(site.root(), "/b.txt").status == 0);
  CHECK(cache.stats().hits == 1);
  REQUIRE(cache.find(site.root(), "/a.txt").status == 0);
  CHECK(cache.stats().misses == 5);
}

TEST_CASE("FileCache drops entries left unused", "[dataplane][static][cache]") {
  SiteDir site;
  site.write("old.txt", "old");
  site.write("recent.txt", "recent");
  site.write("new.txt", "new");
  ManualClock clock;
  FileCacheOptions idle = options(16, 1000ms);
  idle.evictUnusedAfter = 10000ms;
  FileCache cache(idle, clock.clock());

  REQUIRE(cache.find(site.root(), "/old.txt").status == 0);
  clock.advance(6000ms);
  REQUIRE(cache.find(site.root(), "/recent.txt").status == 0);
  clock.advance(4000ms);
  // A miss drops what has not been used for 10 s: old.txt, not recent.txt.
  REQUIRE(cache.find(site.root(), "/new.txt").status == 0);
  CHECK(cache.stats().expirations == 1);
  CHECK(cache.size() == 2);

  clock.advance(10000ms);
  cache.sweep();
  CHECK(cache.size() == 0);
  CHECK(cache.stats().expirations == 3);
  CHECK(cache.cachedBytes() == 0);
}

TEST_CASE("FileCache bounds the descriptors it keeps open", "[dataplane][static][cache]") {
  SiteDir site;
  const std::string large(2000, 'L');  // above the 1024-byte in-memory limit: streamed
  site.write("small-a.txt", "a");
  site.write("one.bin", large);
  site.write("two.bin", large);
  site.write("small-b.txt", "b");
  site.write("three.bin", large);
  FileCacheOptions limited = options();
  limited.maxOpenDescriptors = 2;
  FileCache cache(limited);

  for (const char* path : {"/small-a.txt", "/one.bin", "/two.bin", "/small-b.txt"}) {
    REQUIRE(cache.find(site.root(), path).status == 0);
  }
  CHECK(cache.openDescriptors() == 2);
  REQUIRE(cache.find(site.root(), "/one.bin").status == 0);    // one is now more recent than two
  REQUIRE(cache.find(site.root(), "/three.bin").status == 0);  // evicts two, not the small files
  CHECK(cache.openDescriptors() == 2);
  CHECK(cache.size() == 4);
  CHECK(cache.stats().evictions == 1);

  uint64_t misses = cache.stats().misses;
  for (const char* path : {"/small-a.txt", "/small-b.txt", "/one.bin", "/three.bin"}) {
    REQUIRE(cache.find(site.root(), path).status == 0);
  }
  CHECK(cache.stats().misses == misses);
  REQUIRE(cache.find(site.root(), "/two.bin").status == 0);
  CHECK(cache.stats().misses == misses + 1);

  cache.clear();
  CHECK(cache.openDescriptors() == 0);
}

}  // namespace siteplane::staticfiles

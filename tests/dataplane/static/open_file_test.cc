#include "dataplane/static/open_file.h"

#include <fcntl.h>

#include <catch2/catch.hpp>

#include "tests/dataplane/static/static_fixture.h"

namespace siteplane::staticfiles {
namespace {

using testing::SiteDir;

std::shared_ptr<const OpenFile> openPath(const std::filesystem::path& path,
                                         uint64_t inMemoryLimit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd.valid());
  auto file = OpenFile::create(std::move(fd), "text/plain; charset=utf-8", inMemoryLimit);
  REQUIRE(file.isOk());
  return file.value();
}

std::string pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return data;
}

}  // namespace

TEST_CASE("OpenFile keeps a small file in memory and closes its descriptor",
          "[dataplane][static][file]") {
  SiteDir site;
  auto path = site.write("small.txt", "hello world");
  site.touch("small.txt", 784111777);
  auto file = openPath(path, 64 * 1024);

  CHECK(file->inMemory());
  CHECK(file->fd() == -1);
  CHECK(file->contents() == "hello world");
  CHECK(file->size() == 11);
  CHECK(file->contentType() == "text/plain; charset=utf-8");
  CHECK(file->lastModified() == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(file->etag().front() == '"');
  CHECK(file->etag().back() == '"');

  char buffer[5];
  auto n = file->read(6, buffer, sizeof(buffer));
  REQUIRE(n.isOk());
  CHECK(std::string(buffer, *n) == "world");
  n = file->read(11, buffer, sizeof(buffer));
  REQUIRE(n.isOk());
  CHECK(*n == 0);
}

TEST_CASE("OpenFile streams a large file by offset without loading it",
          "[dataplane][static][file]") {
  SiteDir site;
  const std::string data = pattern(3 * 1024 * 1024 + 123);
  auto path = site.write("large.bin", data);
  auto file = openPath(path, 64 * 1024);

  REQUIRE_FALSE(file->inMemory());
  CHECK(file->fd() >= 0);
  CHECK(file->contents().empty());
  CHECK(file->size() == data.size());
  CHECK(testing::readAll(*file, 16 * 1024) == data);

  // Reads at arbitrary offsets, as a 206 or a resumed stream does.
  char buffer[1000];
  for (uint64_t offset :
       {uint64_t{0}, uint64_t{65535}, uint64_t{1024 * 1024 + 7}, uint64_t{data.size() - 10}}) {
    auto n = file->read(offset, buffer, sizeof(buffer));
    REQUIRE(n.isOk());
    size_t expected = std::min<size_t>(sizeof(buffer), data.size() - offset);
    CHECK(*n == expected);
    CHECK(std::string_view(buffer, *n) == std::string_view(data).substr(offset, expected));
  }
  auto end = file->read(data.size(), buffer, sizeof(buffer));
  REQUIRE(end.isOk());
  CHECK(*end == 0);
}

TEST_CASE("OpenFile treats the in-memory limit as inclusive", "[dataplane][static][file]") {
  SiteDir site;
  auto path = site.write("exact.bin", pattern(1024));
  CHECK(openPath(path, 1024)->inMemory());
  CHECK_FALSE(openPath(path, 1023)->inMemory());
  CHECK(openPath(site.write("empty.txt", ""), 0)->inMemory());
}

TEST_CASE("OpenFile derives a different ETag when the file changes", "[dataplane][static][file]") {
  SiteDir site;
  auto path = site.write("a.txt", "one");
  site.touch("a.txt", 1000000);
  auto first = openPath(path, 1024);
  site.touch("a.txt", 1000001);
  auto touched = openPath(path, 1024);
  site.write("a.txt", "three");
  site.touch("a.txt", 1000001);
  auto resized = openPath(path, 1024);

  CHECK(first->etag() != touched->etag());
  CHECK(touched->etag() != resized->etag());
  CHECK(openPath(path, 1024)->etag() == resized->etag());

  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(resized->matches(st));
  CHECK_FALSE(first->matches(st));
}

TEST_CASE("OpenFile refuses what is not a regular file", "[dataplane][static][file]") {
  SiteDir site;
  UniqueFd fd(::open(site.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd.valid());
  auto file = OpenFile::create(std::move(fd), "text/plain", 1024);
  REQUIRE_FALSE(file.isOk());
  CHECK(file.message() == "not a regular file");
}

}  // namespace siteplane::staticfiles

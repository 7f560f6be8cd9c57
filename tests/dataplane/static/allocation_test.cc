// Counts heap allocations to hold the hot path to its promise: serving a cached file allocates
// nothing. Replacing the global operator new affects this whole test binary, which is harmless:
// it only counts.

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>

#include "dataplane/static/static_handler.h"
#include "tests/dataplane/static/static_fixture.h"

namespace {
std::atomic<size_t> gAllocations{0};
}  // namespace

// Every replaceable non-aligned form is replaced, so that no runtime (a sanitizer's included)
// pairs its own operator new with this free() or the other way round.
namespace {
void* countedAllocate(std::size_t size) noexcept {
  ++gAllocations;
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

void* operator new(std::size_t size) {
  if (void* memory = countedAllocate(size)) return memory;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* memory = countedAllocate(size)) return memory;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return countedAllocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return countedAllocate(size);
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete[](void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
void operator delete(void* memory, const std::nothrow_t&) noexcept { std::free(memory); }
void operator delete[](void* memory, const std::nothrow_t&) noexcept { std::free(memory); }

namespace siteplane::staticfiles {

TEST_CASE("StaticHandler does not allocate when serving a cached file",
          "[dataplane][static][perf]") {
  testing::SiteDir site;
  site.write("docs/index.html", std::string(1000, 'x'));
  site.write("big.bin", std::string(200 * 1024, 'y'));
  const std::filesystem::path root = site.root();
  testing::ManualClock clock;
  StaticHandler handler({}, clock.clock());
  std::string headers;
  headers.reserve(1024);
  char buffer[4096];

  StaticRequest requests[] = {
      {"GET", "/docs/", {}, {}, {}, {}, {}, {}},
      {"GET", "/docs/index.html", {}, {}, {}, {}, {}, {}},
      {"HEAD", "/big.bin", {}, {}, {}, {}, {}, {}},
      {"GET", "/big.bin", {}, {}, "bytes=100-199", {}, {}, {}},
      {"GET", "/docs/index.html", "\"nope\", \"other\"", {}, {}, {}, {}, {}},
  };
  // Warm up: the first pass resolves and caches, and grows the reused buffers.
  for (const StaticRequest& request : requests) {
    REQUIRE(handler.handle(request, root).status < 300);
  }

  size_t before = gAllocations.load();
  int served = 0;
  for (int round = 0; round < 50; ++round) {
    // Past the validity period every few rounds, so the revalidating stat() is covered too.
    clock.advance(std::chrono::milliseconds(300));
    for (const StaticRequest& request : requests) {
      StaticResponse response = handler.handle(request, root);
      headers.clear();
      response.appendHeaders(headers);
      if (response.sendBody) {
        auto n = response.file->read(response.offset, buffer, sizeof(buffer));
        served += n.isOk() && *n > 0;
      }
    }
  }
  size_t allocations = gAllocations.load() - before;

  CHECK(allocations == 0);
  CHECK(served == 50 * 4);
  CHECK(handler.cache().stats().revalidations > 0);
  CHECK(handler.cache().stats().misses == 3);
}

}  // namespace siteplane::staticfiles

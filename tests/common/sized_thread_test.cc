#include "common/sized_thread.h"

#include <pthread.h>

#include <catch2/catch.hpp>
#include <stdexcept>

#include "tests/support/test_support.h"

using siteplane::SizedThread;
using siteplane::testing::runWithStack;

namespace {

size_t currentStackSize() {
  pthread_attr_t attributes;
  REQUIRE(pthread_getattr_np(pthread_self(), &attributes) == 0);
  size_t size = 0;
  pthread_attr_getstacksize(&attributes, &size);
  pthread_attr_destroy(&attributes);
  return size;
}

}  // namespace

TEST_CASE("A SizedThread has the stack it asked for, whatever RLIMIT_STACK says", "[common]") {
  size_t seen = 0;
  auto thread =
      SizedThread::start(siteplane::kDeepJsonStackBytes, [&] { seen = currentStackSize(); });
  REQUIRE(thread);
  REQUIRE(thread->joinable());
  thread->join();
  CHECK_FALSE(thread->joinable());
  CHECK(seen >= siteplane::kDeepJsonStackBytes);
}

TEST_CASE("A stack size below the system minimum is an error, not a thread", "[common]") {
  auto thread = SizedThread::start(1, [] {});
  REQUIRE_FALSE(thread);
  CHECK_THAT(thread.message(), Catch::Contains("pthread_attr_setstacksize"));
}

TEST_CASE("runWithStack waits for its body and hands back what it threw", "[common]") {
  size_t seen = 0;
  REQUIRE(runWithStack(size_t{32} << 20, [&] { seen = currentStackSize(); }));
  CHECK(seen >= (size_t{32} << 20));
  CHECK_THROWS_WITH(runWithStack(size_t{1} << 20, [] { throw std::runtime_error("boom"); }),
                    "boom");
}

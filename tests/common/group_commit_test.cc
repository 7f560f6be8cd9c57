#include "common/group_commit.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace siteplane {
namespace {

struct Write {
  int value = 0;
  int commitNumber = 0;  // which commit carried it
  bool committed = false;
};

TEST_CASE("GroupCommit commits the requests queued during a commit together, in queue order",
          "[common]") {
  GroupCommit<Write> commits;
  std::atomic<bool> firstStarted{false};
  std::atomic<bool> releaseFirst{false};
  std::vector<std::vector<int>> groups;  // only touched by commits, which never overlap
  auto commit = [&](const std::vector<Write*>& group) {
    std::vector<int> values;
    for (Write* write : group) {
      values.push_back(write->value);
      write->commitNumber = static_cast<int>(groups.size()) + 1;
    }
    groups.push_back(values);
    if (groups.size() == 1) {
      firstStarted = true;
      // Hold the first commit until the others have queued behind it.
      while (!releaseFirst) std::this_thread::yield();
    }
  };

  Write first{1};
  std::thread leader([&] { commits.submit(first, commit); });
  REQUIRE(testing::waitUntil([&] { return firstStarted.load(); }));
  std::vector<Write> later(4);
  std::vector<std::thread> followers;
  std::atomic<int> returned{0};
  for (size_t i = 0; i < later.size(); ++i) {
    later[i].value = static_cast<int>(i) + 2;
    followers.emplace_back([&, i] {
      commits.submit(later[i], commit);
      ++returned;
    });
  }
  // All four are queued behind the first commit, which is still running: none may return yet.
  REQUIRE(testing::waitUntil([&] { return commits.queued() == 4; }));
  CHECK(returned.load() == 0);
  releaseFirst = true;
  leader.join();
  for (auto& follower : followers) follower.join();

  // The first commit carried only the first write; the four that queued behind it were committed
  // after it, all four in the next one.
  REQUIRE(groups.size() >= 2);
  CHECK(groups.size() < 5);
  CHECK(groups.size() == 2);
  CHECK(groups[0] == std::vector<int>{1});
  std::vector<int> rest;
  for (size_t g = 1; g < groups.size(); ++g)
    rest.insert(rest.end(), groups[g].begin(), groups[g].end());
  std::sort(rest.begin(), rest.end());
  CHECK(rest == std::vector<int>{2, 3, 4, 5});
  for (const auto& write : later) CHECK(write.commitNumber >= 2);
  CHECK(first.committed);
  for (const auto& write : later) CHECK(write.committed);
}

}  // namespace
}  // namespace siteplane

// ListPager: pages of one consistent snapshot, and the tokens it refuses.

#include "controller/apiserver/list_pager.h"

#include <catch2/catch.hpp>

using namespace siteplane::apiserver;
using siteplane::store::ObjectPtr;

namespace {

std::vector<ObjectPtr> objects(int count) {
  std::vector<ObjectPtr> out;
  for (int i = 0; i < count; ++i)
    out.push_back(std::make_shared<const nlohmann::json>(
        nlohmann::json{{"metadata", {{"name", "b" + std::to_string(i)}}}}));
  return out;
}

std::vector<std::string> names(const ListPage& page) {
  std::vector<std::string> out;
  for (const auto& item : page.items) out.push_back((*item)["metadata"]["name"]);
  return out;
}

}  // namespace

TEST_CASE("ListPager hands out a snapshot page by page until the last page", "[apiserver][list]") {
  ListPager pager;
  ListPage first = pager.first(objects(5), 42, "bindings", 2);
  CHECK(names(first) == std::vector<std::string>{"b0", "b1"});
  CHECK(first.resourceVersion == 42);
  CHECK(first.remainingItemCount == 3);
  REQUIRE_FALSE(first.continueToken.empty());

  ListPage second;
  REQUIRE_FALSE(pager.next(first.continueToken, "bindings", 2, second));
  CHECK(names(second) == std::vector<std::string>{"b2", "b3"});
  CHECK(second.resourceVersion == 42);
  ListPage last;
  REQUIRE_FALSE(pager.next(second.continueToken, "bindings", 2, last));
  CHECK(names(last) == std::vector<std::string>{"b4"});
  CHECK(last.continueToken.empty());
  CHECK(pager.snapshots() == 0);  // the last page releases the snapshot

  // Its tokens are spent now.
  ListPage again;
  auto expired = pager.next(second.continueToken, "bindings", 2, again);
  REQUIRE(expired);
  CHECK(expired->code == 410);
  CHECK(expired->reason == "Expired");
}

TEST_CASE("ListPager keeps no snapshot for a list that fits in one page", "[apiserver][list]") {
  ListPager pager;
  ListPage all = pager.first(objects(3), 7, "bindings", 3);
  CHECK(all.items.size() == 3);
  CHECK(all.continueToken.empty());
  CHECK(pager.first(objects(3), 7, "bindings", 0).items.size() == 3);
  CHECK(pager.snapshots() == 0);
}

TEST_CASE("ListPager refuses malformed, foreign, old and evicted tokens", "[apiserver][list]") {
  ListPager::Options options;
  options.maxSnapshots = 2;
  options.maxAge = std::chrono::seconds(60);
  ListPager pager(options);
  auto start = siteplane::Clock::real().now();
  ListPage page = pager.first(objects(4), 1, "bindings ns=a", 1, start);
  ListPage out;

  auto malformed = pager.next("v1.x", "bindings ns=a", 1, out, start);
  REQUIRE(malformed);
  CHECK(malformed->code == 400);
  auto foreign = pager.next(page.continueToken, "sites ns=a", 1, out, start);
  REQUIRE(foreign);
  CHECK(foreign->code == 400);
  auto old =
      pager.next(page.continueToken, "bindings ns=a", 1, out, start + std::chrono::minutes(2));
  REQUIRE(old);
  CHECK(old->code == 410);

  // Beyond maxSnapshots the oldest goes first.
  ListPage a = pager.first(objects(4), 2, "q", 1, start);
  ListPage b = pager.first(objects(4), 3, "q", 1, start);
  ListPage c = pager.first(objects(4), 4, "q", 1, start);
  CHECK(pager.snapshots() == 2);
  auto evicted = pager.next(a.continueToken, "q", 1, out, start);
  REQUIRE(evicted);
  CHECK(evicted->code == 410);
  CHECK_FALSE(pager.next(c.continueToken, "q", 1, out, start));
  CHECK(out.resourceVersion == 4);
}

// The compile pass's steps on their own: site ids, listener claims, site roots. compiler_test.cc
// checks the whole pass; these pin each rule where it lives.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "controller/compile/listener_claims.h"
#include "controller/compile/site_ids.h"
#include "controller/compile/site_roots.h"
#include "tests/controller/compile/compile_fixture.h"

namespace siteplane::compile {
namespace {

using testing::binding;
using testing::site;

Candidate candidateFor(const std::vector<api::Binding>& bindings, size_t index) {
  const api::Binding& b = bindings[index];
  return {index, 0, {b.spec.address, b.spec.port}, b.spec.hostName, nullptr};
}

}  // namespace

TEST_CASE("assignSiteIds: explicit ids claim oldest first, assigned ids stay, the rest fill gaps",
          "[controller][compile][passes]") {
  std::vector<api::Site> sites = {site("young", 300), site("old", 100), site("kept", 200),
                                  site("new", 400), site("fresh", 500)};
  sites[0].spec.siteId = 7;    // loses to "old"
  sites[1].spec.siteId = 7;    // claims 7
  sites[2].status.siteId = 2;  // assigned earlier, still free: kept
  const auto ids = assignSiteIds(sites);
  REQUIRE(ids.size() == sites.size());
  CHECK(ids[1].siteId == 7);
  CHECK_FALSE(ids[1].conflict);
  CHECK_FALSE(ids[0].siteId);
  REQUIRE(ids[0].conflict);
  CHECK(ids[0].conflict->reason == reason::kSiteIdConflict);
  CHECK(ids[0].conflict->message == "spec.siteId 7 is already used by Site default/old");
  CHECK(ids[2].siteId == 2);
  // The lowest free ids, in age order: 1 for "new", then 3 (2 is held) for "fresh".
  CHECK(ids[3].siteId == 1);
  CHECK(ids[4].siteId == 3);
}

TEST_CASE("assignSiteIds: an earlier assignment taken by an explicit id moves",
          "[controller][compile][passes]") {
  std::vector<api::Site> sites = {site("explicit", 200), site("assigned", 100)};
  sites[0].spec.siteId = 1;
  sites[1].status.siteId = 1;
  const auto ids = assignSiteIds(sites);
  CHECK(ids[0].siteId == 1);
  CHECK(ids[1].siteId == 2);
}

TEST_CASE("claimListeners: the older binding keeps a host and a port's protocol",
          "[controller][compile][passes]") {
  std::vector<api::Binding> bindings = {
      binding("young-same-host", "s", api::Protocol::kHttp, 8080, "a.test", "", 300),
      binding("old", "s", api::Protocol::kHttp, 8080, "a.test", "", 100),
      binding("other-host", "s", api::Protocol::kHttp, 8080, "b.test", "", 200),
      binding("https-on-http-port", "s", api::Protocol::kHttps, 8080, "c.test", "", 400),
  };
  bindings[3].spec.address = "127.0.0.2";  // another address, the same port
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < bindings.size(); ++i) candidates.push_back(candidateFor(bindings, i));
  std::vector<ConditionPlan> conflicted(bindings.size());

  const auto winners = claimListeners(candidates, bindings, conflicted);

  REQUIRE(winners.size() == 2);
  CHECK(winners[0].binding == 1);  // oldest first
  CHECK(winners[1].binding == 2);
  CHECK(conflicted[1].status == api::ConditionStatus::kFalse);
  CHECK(conflicted[1].reason == reason::kNoConflicts);
  CHECK(conflicted[0].status == api::ConditionStatus::kTrue);
  CHECK(conflicted[0].reason == reason::kHostnameConflict);
  CHECK(conflicted[0].message ==
        "host \"a.test\" on 127.0.0.1:8080 is already bound by Binding default/old (older)");
  CHECK(conflicted[3].reason == reason::kProtocolConflict);
  CHECK(conflicted[3].message ==
        "port 8080 is already http on 127.0.0.1:8080 (Binding default/old, older): one port "
        "serves one protocol on every address");
}

TEST_CASE("SiteRoots refuses pseudo filesystems and the state directory, in any direction",
          "[controller][compile][passes]") {
  testing::TempDir dir;
  dir.write("state/api/token", "secret");
  dir.write("www/index.html", "public");
  const auto state = dir.path() / "state";
  SiteRoots roots(dir.path(), {state}, nullptr);
  std::vector<api::Site> sites = {site("proc"), site("inside"),   site("holder"),
                                  site("www"),  site("relative"), site("none")};
  sites[0].spec.root = "/proc/self/fd/3";
  sites[1].spec.root = (state / "api").string();
  sites[2].spec.root = dir.path().string();
  sites[3].spec.root = (dir.path() / "www").string();
  sites[4].spec.root = "www/../state";  // relative: against the manifest directory
  sites[5].spec.root = "";

  const auto refusals = roots.refusals(sites);

  CHECK(refusals[0] == "spec.root /proc/self/fd/3 lies inside /proc, which a site may not serve");
  CHECK_THAT(refusals[1], Catch::Contains("lies inside the state directory"));
  CHECK_THAT(refusals[2], Catch::Contains("contains the state directory"));
  CHECK(refusals[3].empty());
  CHECK_THAT(refusals[4], Catch::Contains("spec.root www/../state is the state directory"));
  CHECK(refusals[5].empty());
  CHECK(roots.resolve(sites[4]) == state);
}

}  // namespace siteplane::compile

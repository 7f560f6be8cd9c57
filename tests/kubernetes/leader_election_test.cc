// LeaderElector against the real kube-apiserver (the kube_cluster fixture): one leader at a
// time, a released Lease taken at once, a silent leader replaced after the lease duration.

#include "controller/kube/leader_election.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/kubernetes/cluster_support.h"

using namespace siteplane;
using namespace siteplane::kube;
using namespace std::chrono_literals;
using namespace siteplane::testing;

namespace {

std::string uniqueLeaseName(const std::string& prefix) {
  return prefix + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000000);
}

// Short timings, in client-go's proportions: lease > renew deadline > 1.2 x retry.
LeaderElectionOptions fast(const std::string& lease, const std::string& identity) {
  LeaderElectionOptions options;
  options.ns = "default";
  options.name = lease;
  options.identity = identity;
  options.leaseDuration = 4s;
  options.renewDeadline = 3s;
  options.retryPeriod = 500ms;
  return options;
}

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

std::string holderOf(KubeClient& client, const std::string& lease) {
  auto got =
      client.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/" + lease);
  REQUIRE(got);
  REQUIRE(got->status == 200);
  return nlohmann::json::parse(got->body)["spec"].value("holderIdentity", std::string());
}

}  // namespace

TEST_CASE("Of two candidates exactly one leads, and a released Lease passes at once",
          "[kube][cluster][leader]") {
  auto admin = adminClient();
  const std::string lease = uniqueLeaseName("pair");
  auto clientA = adminClient(), clientB = adminClient();
  LeaderElector a(*clientA, fast(lease, "replica-a"));
  LeaderElector b(*clientB, fast(lease, "replica-b"));
  REQUIRE(a.start());
  REQUIRE(b.start());
  REQUIRE(eventually([&] { return a.isLeader() || b.isLeader(); }, 5s));
  // Several renewals later, still exactly one.
  std::this_thread::sleep_for(2s);
  REQUIRE(a.isLeader() != b.isLeader());
  LeaderElector& leader = a.isLeader() ? a : b;
  LeaderElector& follower = a.isLeader() ? b : a;
  CHECK(holderOf(*admin, lease) == leader.identity());
  CHECK(follower.observedHolder() == leader.identity());

  auto stopped = std::chrono::steady_clock::now();
  leader.stop();
  CHECK_FALSE(leader.isLeader());
  // Released (holder ""), so the follower need not wait out the 4 s lease.
  REQUIRE(eventually([&] { return follower.isLeader(); }, 3500ms));
  CHECK(std::chrono::steady_clock::now() - stopped < 4s);
  CHECK(holderOf(*admin, lease) == follower.identity());
}

TEST_CASE(
    "A leader that can no longer renew stops leading within the renew deadline, and the "
    "other takes over once the lease has run out",
    "[kube][cluster][leader]") {
  auto admin = adminClient();
  const std::string lease = uniqueLeaseName("silent");
  using Clock = std::chrono::steady_clock;
  std::atomic<Clock::rep> bStarted{0};
  std::atomic<bool> aLeadingWhenBStarted{false};
  auto clientA = adminClient();
  LeaderElector a(*clientA, fast(lease, "replica-a"));
  REQUIRE(a.start());
  REQUIRE(eventually([&] { return a.isLeader(); }, 5s));
  auto clientB = adminClient();
  auto optionsB = fast(lease, "replica-b");
  optionsB.onStartedLeading = [&] {
    aLeadingWhenBStarted = a.isLeader();
    bStarted = Clock::now().time_since_epoch().count();
  };
  LeaderElector b(*clientB, optionsB);
  REQUIRE(b.start());
  std::this_thread::sleep_for(1500ms);
  CHECK_FALSE(b.isLeader());  // a renews: b must not take it

  // a's connection to the API server is gone (as if partitioned): it cannot renew.
  auto cut = Clock::now();
  clientA->cancel();
  // a stops leading by its last renewal + the 3 s renew deadline; it renewed at most one jittered
  // retry (1.1 s) before the cut.
  REQUIRE(eventually([&] { return !a.isLeader(); }, 3500ms));
  // b takes it no sooner than a full 4 s lease after it saw a's last renewal, so never while a
  // may still write, and no sooner than 4 - 1.1 s after the cut.
  REQUIRE(eventually([&] { return b.isLeader(); }, 8s));
  REQUIRE(bStarted != 0);
  CHECK_FALSE(aLeadingWhenBStarted);  // never two leaders at once
  CHECK(Clock::time_point(Clock::duration(bStarted.load())) - cut >= 2800ms);
  CHECK(holderOf(*admin, lease) == "replica-b");
  a.stop();
  CHECK(holderOf(*admin, lease) == "replica-b");  // a, no longer the holder, releases nothing
}

TEST_CASE("Leader election options that cannot work are refused", "[kube][leader]") {
  auto client = adminClient();
  auto options = fast("x", "me");
  options.renewDeadline = 5s;  // not below the lease duration
  CHECK_FALSE(LeaderElector(*client, options).start());
  options = fast("x", "");
  CHECK_THAT(LeaderElector(*client, options).start().message(), Catch::Contains("POD_NAME"));
}

#pragma once

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
// it: every replica tries to acquire the Lease each retry period; the holder renews it; a Lease
// whose record has not changed for leaseDurationSeconds, measured on this replica's own monotonic
// clock from when it last saw the record change (never from the renewTime another machine
// wrote), is free to take. Only the leader writes status, Secrets and Events.
//
//   LeaderElector elector(client, {.ns = "siteplane-system", .name = "siteplane",
//                                  .identity = podName});
//   elector.start();
//   if (elector.isLeader()) writeStatus();   // checked right before every write
//   elector.stop();                          // a leader releases the Lease on the way out
//
// isLeader() is false as soon as the last successful renewal is older than renewDeadline, even
// while the election thread is stuck in a request: a replica that may have lost the Lease stops
// writing at once, before another can take it (leaseDuration > renewDeadline).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/clock.h"
#include "controller/kube/kube_client.h"

namespace siteplane::kube {

struct LeaderElectionOptions {
  std::string ns;
  std::string name;
  std::string identity;
  // client-go's defaults; leaseDuration > renewDeadline > 1.2 x retryPeriod.
  std::chrono::seconds leaseDuration{15};
  std::chrono::seconds renewDeadline{10};
  std::chrono::milliseconds retryPeriod{2000};
  // Called on the election thread when this replica starts or stops leading.
  std::function<void()> onStartedLeading;
  std::function<void()> onStoppedLeading;
  Clock* clock = &Clock::real();
};

class LeaderElector {
 public:
  LeaderElector(KubeClient& client, LeaderElectionOptions options);
  ~LeaderElector();  // stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Checks the options (an error names the one that is wrong) and starts the election thread.
  Status start();
  // Ends the thread; a leader releases the Lease (holder "") so that another replica takes it
  // without waiting for it to expire. Idempotent.
  void stop();

  bool isLeader() const;
  const std::string& identity() const { return options_.identity; }
  // Who holds the Lease as this replica last read it ("" unknown or released), for /readyz.
  std::string observedHolder() const;
  // Times this replica became leader, for /metrics.
  uint64_t transitions() const { return becameLeader_.load(); }

 private:
  enum class Attempt { kAcquired, kHeldByOther, kFailed };
  void run();
  Attempt tryAcquireOrRenew();
  Attempt createLease();
  void release();
  void setLeading(bool leading);
  std::string leasePath() const;
  nlohmann::json leaseObject(const nlohmann::json& spec, const std::string& resourceVersion) const;

  KubeClient& client_;
  LeaderElectionOptions options_;
  std::thread thread_;

  mutable std::mutex mutex_;  // guards the fields below, and wakes run() for stop()
  std::condition_variable wake_;
  bool stopping_ = false;
  nlohmann::json observedSpec_;
  Clock::TimePoint observedTime_{};
  std::string observedHolder_;

  std::atomic<bool> leading_{false};
  std::atomic<Clock::TimePoint::rep> lastRenewal_{0};  // this clock's now() of the last success
  std::atomic<uint64_t> becameLeader_{0};
};

}  // namespace siteplane::kube

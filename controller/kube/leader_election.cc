#include "controller/kube/leader_election.h"

#include <cstdio>
#include <ctime>
#include <exception>

#include "common/logging.h"
#include "controller/kube/jitter.h"

namespace siteplane::kube {

using nlohmann::json;

namespace {

// metav1.MicroTime: RFC 3339 with exactly six fraction digits, UTC.
std::string microTime(Clock::WallTime time) {
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];  // room for any int the compiler cannot rule out
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<long long>(micros % 1000000));
  return text;
}

auto logger() { return siteplane::logger("controller.kube"); }

}  // namespace

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionOptions options)
    : client_(client), options_(std::move(options)) {}

LeaderElector::~LeaderElector() { stop(); }

Status LeaderElector::start() {
  if (options_.ns.empty() || options_.name.empty())
    return Status::error("leader election: the Lease needs a namespace and a name");
  if (options_.identity.empty())
    return Status::error("leader election: no holder identity (set POD_NAME)");
  if (!(options_.leaseDuration > options_.renewDeadline &&
        std::chrono::duration<double>(options_.renewDeadline).count() >
            1.2 * std::chrono::duration<double>(options_.retryPeriod).count())) {
    return Status::error(
        "leader election: needs lease duration > renew deadline > 1.2 x retry period");
  }
  thread_ = std::thread([this] { run(); });
  return Status::ok();
}

void LeaderElector::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::isLeader() const {
  if (!leading_) return false;
  auto renewed = Clock::TimePoint(Clock::Duration(lastRenewal_.load()));
  return options_.clock->now() - renewed < options_.renewDeadline;
}

std::string LeaderElector::observedHolder() const {
  std::lock_guard lock(mutex_);
  return observedHolder_;
}

std::string LeaderElector::leasePath() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + options_.ns + "/leases/" + options_.name;
}

json LeaderElector::leaseObject(const json& spec, const std::string& resourceVersion) const {
  json metadata = {{"name", options_.name}, {"namespace", options_.ns}};
  if (!resourceVersion.empty()) metadata["resourceVersion"] = resourceVersion;
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", metadata},
          {"spec", spec}};
}

void LeaderElector::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    Attempt attempt = Attempt::kFailed;
    try {
      attempt = tryAcquireOrRenew();
    } catch (const std::exception& error) {
      // A Lease whose fields have the wrong types (nlohmann's value() throws): whoever wrote it,
      // it costs this round, not the process.
      logger()->warn("lease_unreadable lease={}/{} error=\"{}\"", options_.ns, options_.name,
                     error.what());
    }
    lock.lock();
    if (stopping_) break;
    if (attempt == Attempt::kAcquired) {
      lastRenewal_ = options_.clock->now().time_since_epoch().count();
      if (!leading_) setLeading(true);
    } else if (leading_ && (attempt == Attempt::kHeldByOther || !isLeader())) {
      // Another holder, or no renewal within the deadline: stop writing now.
      setLeading(false);
    }
    options_.clock->waitUntil(lock, wake_,
                              options_.clock->now() + jittered(options_.retryPeriod, 1.2));
  }
  lock.unlock();
  if (leading_) {
    try {
      release();
    } catch (const std::exception& error) {
      logger()->warn("lease_release_failed lease={}/{} error=\"{}\"", options_.ns, options_.name,
                     error.what());
    }
    setLeading(false);
  }
}

void LeaderElector::setLeading(bool leading) {
  leading_ = leading;
  if (leading) {
    ++becameLeader_;
    logger()->info("leader_elected lease={}/{} identity={}", options_.ns, options_.name,
                   options_.identity);
    if (options_.onStartedLeading) options_.onStartedLeading();
  } else {
    logger()->warn("leader_lost lease={}/{} identity={}", options_.ns, options_.name,
                   options_.identity);
    if (options_.onStoppedLeading) options_.onStoppedLeading();
  }
}

LeaderElector::Attempt LeaderElector::createLease() {
  const std::string now = microTime(options_.clock->wallNow());
  json spec = {{"holderIdentity", options_.identity},
               {"leaseDurationSeconds", options_.leaseDuration.count()},
               {"acquireTime", now},
               {"renewTime", now},
               {"leaseTransitions", 0}};
  auto created =
      client_.request("POST", "/apis/coordination.k8s.io/v1/namespaces/" + options_.ns + "/leases",
                      leaseObject(spec, "").dump(), {.timeout = options_.renewDeadline / 2});
  if (created && created->status == 201) return Attempt::kAcquired;
  // 409: another replica created it first; the next round reads it.
  if (created && created->status == 409) return Attempt::kHeldByOther;
  logger()->warn("lease_create_failed lease={}/{} error=\"{}\"", options_.ns, options_.name,
                 created ? "HTTP " + std::to_string(created->status) : created.message());
  return Attempt::kFailed;
}

LeaderElector::Attempt LeaderElector::tryAcquireOrRenew() {
  const KubeRequestOptions requestOptions{.timeout = options_.renewDeadline / 2};
  auto got = client_.request("GET", leasePath(), "", requestOptions);
  if (got && got->status == 404) return createLease();
  if (!got || got->status != 200) {
    logger()->warn("lease_read_failed lease={}/{} error=\"{}\"", options_.ns, options_.name,
                   got ? "HTTP " + std::to_string(got->status) : got.message());
    return Attempt::kFailed;
  }
  json lease = json::parse(got->body, nullptr, false);
  if (!lease.is_object() || !lease.contains("spec")) return Attempt::kFailed;
  json spec = lease["spec"];
  const std::string holder = spec.value("holderIdentity", std::string());
  const auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", 0));
  const auto now = options_.clock->now();
  {
    std::lock_guard lock(mutex_);
    if (spec != observedSpec_) {
      observedSpec_ = spec;
      observedTime_ = now;
    }
    observedHolder_ = holder;
    if (!holder.empty() && holder != options_.identity && observedTime_ + duration > now)
      return Attempt::kHeldByOther;
  }
  const std::string wallNow = microTime(options_.clock->wallNow());
  json next = spec;
  next["holderIdentity"] = options_.identity;
  next["leaseDurationSeconds"] = options_.leaseDuration.count();
  next["renewTime"] = wallNow;
  if (holder != options_.identity) {
    next["acquireTime"] = wallNow;
    next["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  // The resourceVersion makes this a compare-and-swap: a rival's write in between is a 409.
  auto put = client_.request(
      "PUT", leasePath(),
      leaseObject(next, lease["metadata"].value("resourceVersion", std::string())).dump(),
      requestOptions);
  if (put && put->status == 200) {
    std::lock_guard lock(mutex_);
    observedSpec_ = next;
    observedTime_ = now;
    observedHolder_ = options_.identity;
    return Attempt::kAcquired;
  }
  if (put && put->status == 409) return Attempt::kHeldByOther;
  logger()->warn("lease_update_failed lease={}/{} error=\"{}\"", options_.ns, options_.name,
                 put ? "HTTP " + std::to_string(put->status) : put.message());
  return Attempt::kFailed;
}

// client-go's ReleaseOnCancel: holder "" and a 1 s duration, so the next replica need not wait.
void LeaderElector::release() {
  {
    std::lock_guard lock(mutex_);
    if (observedHolder_ != options_.identity) return;
  }
  // Read again for the current resourceVersion: the release is a compare-and-swap too.
  auto got = client_.request("GET", leasePath(), "", {.timeout = options_.renewDeadline / 2});
  if (!got || got->status != 200) return;
  json lease = json::parse(got->body, nullptr, false);
  if (!lease.is_object() ||
      lease["spec"].value("holderIdentity", std::string()) != options_.identity)
    return;
  const std::string now = microTime(options_.clock->wallNow());
  json released = lease["spec"];
  released["holderIdentity"] = "";
  released["leaseDurationSeconds"] = 1;
  released["acquireTime"] = now;
  released["renewTime"] = now;
  auto put = client_.request(
      "PUT", leasePath(),
      leaseObject(released, lease["metadata"].value("resourceVersion", std::string())).dump(),
      {.timeout = options_.renewDeadline / 2});
  if (put && put->status == 200)
    logger()->info("lease_released lease={}/{} identity={}", options_.ns, options_.name,
                   options_.identity);
}

}  // namespace siteplane::kube

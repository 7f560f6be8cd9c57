#pragma once

// Keeps a local copy of one collection of the Kubernetes API (a kind in one namespace or in all,
// optionally filtered by labels) as client-go's reflector does: list in pages, then watch from the
// list's resourceVersion with bookmarks, resume every watch from the last resourceVersion seen,
// list again when the server says that version is gone (410), and back off with jitter while the
// server cannot be reached, so a down API server costs one request per backoff, not a busy loop.
//
//   auto sites = Reflector::create(config, {.path = "/apis/siteplane.io/v1alpha1/sites",
//                            .onReplace = [](std::vector<json> items) { ... the whole set ... },
//                            .onEvent = [](WatchEventType t, const json& o) { ... }});
//   (*sites)->start();
//   (*sites)->waitForSync(std::chrono::seconds(30));
//   (*sites)->stop();
//
// The callbacks run on the reflector's thread, one at a time, in the server's order. What was
// delivered stays valid while the server is unreachable: nothing is retracted until a list says so.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "controller/kube/kube_client.h"

namespace siteplane::kube {

enum class WatchEventType { kAdded, kModified, kDeleted };

struct ReflectorOptions {
  // The collection: "/apis/GROUP/VERSION[/namespaces/NS]/RESOURCE" or "/api/v1[...]/secrets".
  std::string path;
  std::string labelSelector;  // empty: every object
  // Items per list page (client-go's 500): a large collection is never one huge answer.
  size_t pageSize = 500;
  // Backoff after a failure: doubled per consecutive failure up to the maximum, each wait
  // jittered by up to +100% (client-go: 800 ms to 30 s).
  std::chrono::milliseconds initialBackoff{800};
  std::chrono::milliseconds maxBackoff{30000};
  // A watch asks the server to end it after a random time in [min, 2 x min) (client-go: 5 to 10
  // minutes), so watches of many replicas do not all reconnect at once.
  std::chrono::seconds minWatchTimeout{300};
  // The full set after every list (first sync and every relist).
  std::function<void(std::vector<nlohmann::json> items)> onReplace;
  // One change between lists.
  std::function<void(WatchEventType type, const nlohmann::json& object)> onEvent;
  Clock* clock = &Clock::real();
};

// What /readyz and /metrics say about one reflector.
struct ReflectorHealth {
  bool synced = false;    // a list has been delivered
  bool watching = false;  // a watch is open now
  std::string lastError;  // of the last failure; empty after a success
  uint64_t lists = 0;     // lists delivered (1 + relists)
  uint64_t failures = 0;  // failed list or watch requests
  std::string resourceVersion;
};

class Reflector {
 public:
  // The reflector has a client of its own, so that stop() can end its watch without ending
  // anyone else's requests.
  static Result<std::unique_ptr<Reflector>> create(const KubeConfig& config,
                                                   ReflectorOptions options);
  ~Reflector();  // stop()
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void start();
  // Ends the thread, cancelling a request in flight. Nothing is delivered after it returns.
  // Idempotent.
  void stop();
  // Whether a first list has been delivered, waiting up to `timeout` for it.
  bool waitForSync(std::chrono::milliseconds timeout);
  ReflectorHealth health() const;
  const std::string& path() const { return options_.path; }

 private:
  Reflector(std::unique_ptr<KubeClient> client, ReflectorOptions options);
  void run();
  // Lists every page and delivers the whole set; returns the list's resourceVersion.
  Result<std::string> listAll();
  // Watches from resourceVersion_ until the stream ends or fails; kExpired asks for a relist.
  Status watchOnce();
  // Handles one watch line; false ends the watch (with watchFailure_ set when it failed).
  bool onWatchLine(std::string_view line);
  // Sleeps the backoff of `failures` consecutive failures, or until stop().
  void backOff(unsigned failures);
  std::string query(const std::string& extra) const;
  void recordFailure(const Status& failure);
  // Runs a callback, logging what it throws.
  void deliver(const std::function<void()>& callback);

  std::unique_ptr<KubeClient> client_;
  ReflectorOptions options_;
  std::thread thread_;
  std::string resourceVersion_;         // the reflector thread's
  Status watchFailure_ = Status::ok();  // set by onWatchLine for an ERROR event

  mutable std::mutex mutex_;  // guards stopping_ and health_
  std::condition_variable changed_;
  bool stopping_ = false;
  ReflectorHealth health_;
};

}  // namespace siteplane::kube

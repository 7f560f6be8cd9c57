#pragma once

// The leader's writes to the cluster in Kubernetes mode. The reconcilers and the compile pass
// write status and Events into the local store as in the embedded mode; this follows the local
// store and publishes what differs from the cluster: status through the status subresource and
// Events, both with server-side apply under one field manager ("siteplane"). The Certificate
// reconciler's material goes to its Secret through writeSecret(), before the local certificate
// store. Every write is checked against isLeader() right before it is sent, so a replica that
// loses the Lease stops writing at once; becoming leader publishes every difference it holds.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "common/object_key.h"
#include "common/status.h"
#include "controller/certs/certificate_bundle.h"
#include "controller/kube/cluster_statuses.h"
#include "controller/kube/kube_client.h"
#include "controller/store/store.h"

namespace siteplane::kube {

struct ClusterWriterOptions {
  std::function<bool()> isLeader;
  // A write the API server refused or could not take is tried again after this.
  std::chrono::milliseconds retryDelay{std::chrono::seconds(2)};
};

// What /metrics counts.
struct ClusterWriterCounts {
  uint64_t statusWrites = 0;
  uint64_t eventWrites = 0;
  uint64_t secretWrites = 0;
  uint64_t failures = 0;
};

class ClusterWriter {
 public:
  // `client`, `store` and `statuses` must outlive the writer.
  ClusterWriter(KubeClient& client, store::Store& store, ClusterStatuses& statuses,
                ClusterWriterOptions options);
  ~ClusterWriter();  // stop()
  ClusterWriter(const ClusterWriter&) = delete;
  ClusterWriter& operator=(const ClusterWriter&) = delete;

  // Subscribes to the store and starts the writing thread.
  void start();
  void stop();
  // Queues every local object whose status differs from the cluster's: call on becoming leader.
  void publishAll();

  // Applies the Secret of Certificate `storeKey` ("namespace/name") holding `bundle`. Refused when
  // this replica is not the leader, or when a Secret of that name exists that belongs to
  // something else (a Certificate may not overwrite another application's Secret).
  Status writeSecret(const std::string& storeKey, const certs::CertificateBundle& bundle);

  // The certificate and key of the existing kubernetes.io/tls Secret `ns`/`name` that a
  // Certificate imports (spec.source.secretName). Not found, forbidden or malformed: an error
  // naming the Secret.
  Result<certs::CertificateBundle> readSecret(const std::string& ns, const std::string& name);

  ClusterWriterCounts counts() const;

 private:
  void onStoreEvent(const store::WatchEvent& event);
  void run();
  // Publishes the status or the Event of `key`; false when it must be tried again.
  bool publish(const ObjectKey& key);
  bool publishStatus(const ObjectKey& key, const nlohmann::json& object);
  bool publishEvent(const ObjectKey& key, const nlohmann::json& object);
  void queue(const ObjectKey& key);
  void count(uint64_t ClusterWriterCounts::*field);

  KubeClient& client_;
  store::Store& store_;
  ClusterStatuses& statuses_;
  const ClusterWriterOptions options_;
  store::Subscription subscription_;
  std::thread thread_;

  mutable std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<ObjectKey> pending_;
  std::set<ObjectKey> queued_;
  // Events as last published, so an unchanged one is not sent again.
  std::map<ObjectKey, nlohmann::json> publishedEvents_;
  ClusterWriterCounts counts_;
};

}  // namespace siteplane::kube

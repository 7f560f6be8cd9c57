#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics/exposition_writer.h"
#include "common/object_key.h"
#include "common/status.h"
#include "controller/apiserver/api_handler.h"
#include "controller/certs/certificate_store.h"
#include "controller/kube/cluster_statuses.h"
#include "controller/kube/cluster_writer.h"
#include "controller/kube/kube_client.h"
#include "controller/kube/kubernetes_source.h"
#include "controller/kube/leader_election.h"
#include "controller/store/store.h"
#include "server/server_options.h"

namespace siteplane::server {

// The parts only Kubernetes mode has, wired for the Server: the cluster statuses the source and
// the writer share, the leader election, and the leader's writer. The source itself is handed to
// the Server (takeSource), which owns it as it owns any source.
class KubernetesMode {
 public:
  struct Hooks {
    // A Secret changed a Certificate's material in the certificate store.
    std::function<void(const ObjectKey& certificate)> materialChanged;
    // This replica became leader (on the election thread): reconcile every Certificate again.
    std::function<void()> startedLeading;
  };

  // The stores must outlive the parts.
  static Result<std::unique_ptr<KubernetesMode>> create(const KubernetesOptions& options,
                                                        store::Store& store,
                                                        certs::CertificateStore& certificates,
                                                        Hooks hooks);
  ~KubernetesMode();

  std::unique_ptr<source::Source> takeSource();

  // The writer, then the election: a replica leads only once it can write.
  Status start();
  // The election first (a leader releases the Lease, so another takes over at once), then the
  // writer. Idempotent.
  void stop();

  bool isLeader() const { return elector_->isLeader(); }
  Status writeSecret(const std::string& storeKey, const certs::CertificateBundle& bundle) {
    return writer_->writeSecret(storeKey, bundle);
  }
  Result<certs::CertificateBundle> readSecret(const std::string& ns, const std::string& name) {
    return writer_->readSecret(ns, name);
  }
  // Whether the cluster has acknowledged a status of the Certificate `storeKey`
  // ("namespace/name") that carries the ACME challenge `token`: from then on every replica's
  // watch brings it the answer.
  bool clusterCarriesChallenge(const std::string& storeKey, const std::string& token) const;
  // /readyz: the first lists arrived (a broken watch later does not take a serving replica out
  // of its Service: the last table keeps serving); the leader line says who leads.
  std::vector<apiserver::ReadyCheck> readyChecks() const;
  // siteplane_leader, siteplane_leader_transitions_total, siteplane_kubernetes_watch_*{resource},
  // siteplane_kubernetes_writes_total{kind}, siteplane_kubernetes_write_failures_total.
  Status writeMetrics(metrics::ExpositionWriter& out) const;

 private:
  KubernetesMode() = default;
  Status startElection();

  Hooks hooks_;
  kube::ClusterStatuses statuses_;
  std::unique_ptr<kube::KubeClient> writerClient_;
  std::unique_ptr<kube::KubeClient> electionClient_;
  std::unique_ptr<kube::ClusterWriter> writer_;
  std::unique_ptr<kube::LeaderElector> elector_;
  std::unique_ptr<kube::KubernetesSource> ownedSource_;  // until takeSource()
  kube::KubernetesSource* source_ = nullptr;  // owned by the Server, destroyed before this
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::thread electionWaiter_;  // until the first lists arrived (start())
};

}  // namespace siteplane::server

#pragma once

// The Kubernetes API as the source of the store (`serve --source kubernetes`): a Reflector per
// kind (Sites, Bindings, Certificates, Issuers) and watched namespace mirrors the cluster's
// objects into the local store whole — spec, status, uid and generation as the cluster has them,
// so conditions' observedGeneration means the cluster's generation — and one per namespace
// mirrors the labelled `kubernetes.io/tls` Secrets into the certificate store. The reconcilers
// and the compile pass then run on the local copies exactly as in the embedded mode.
//
// While the API server cannot be reached nothing is taken away: the last objects and certificates
// mirrored keep serving, and each reflector resumes (or lists again) once it answers.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/object_key.h"
#include "common/status.h"
#include "controller/certs/certificate_store.h"
#include "controller/kube/cluster_statuses.h"
#include "controller/kube/kube_config.h"
#include "controller/kube/reflector.h"
#include "controller/source/source.h"
#include "controller/store/store.h"

namespace siteplane::kube {

struct KubernetesSourceOptions {
  // Namespaces to watch; empty: every namespace (one cluster-wide watch per kind).
  std::vector<std::string> namespaces;
  // After a Secret put, changed or removed a Certificate's material in the certificate store, so
  // the Certificate and the compile pass look again (the store event of the status may come first).
  std::function<void(const ObjectKey& certificate)> onMaterialChanged;
  // How long start() waits for the first lists before going on with what the local store holds
  // (the cache of an earlier run, when --state is kept); /readyz stays failing until they arrive.
  std::chrono::milliseconds syncTimeout{std::chrono::seconds(30)};
  // Whether this replica's reconcilers write the status the cluster should get (the leader):
  // then a watch event of the same generation does not replace the local status.
  std::function<bool()> keepsLocalStatus;
  // Reflector backoff and watch timeouts (tests shorten them).
  ReflectorOptions reflector;
};

// What /readyz and /metrics report per reflector.
struct WatchHealth {
  std::string path;
  ReflectorHealth health;
};

class KubernetesSource final : public source::Source {
 public:
  // The stores and `statuses` must outlive the source.
  static Result<std::unique_ptr<KubernetesSource>> create(const KubeConfig& config,
                                                          store::Store& store,
                                                          certs::CertificateStore& certificates,
                                                          ClusterStatuses& statuses,
                                                          KubernetesSourceOptions options);
  ~KubernetesSource() override;

  // Starts every reflector and waits (up to syncTimeout) for their first lists.
  Status start() override;
  void stop() override;
  // A no-op: the watches deliver every change as it happens, and a reflector lists again by
  // itself whenever its watch cannot resume.
  void rescan() override {}

  std::vector<WatchHealth> health() const;
  // Every reflector has delivered a first list.
  bool synced() const;

 private:
  KubernetesSource(store::Store& store, certs::CertificateStore& certificates,
                   ClusterStatuses& statuses, KubernetesSourceOptions options)
      : store_(store),
        certificates_(certificates),
        statuses_(statuses),
        options_(std::move(options)) {}
  Status addReflector(const KubeConfig& config, std::string path, std::string labelSelector,
                      std::function<void(std::vector<nlohmann::json>)> onReplace,
                      std::function<void(WatchEventType, const nlohmann::json&)> onEvent);

  // Objects of `kind` (in `ns`, or all namespaces when empty).
  void replaceObjects(const std::string& kind, const std::string& ns,
                      std::vector<nlohmann::json> items);
  void applyObjectEvent(WatchEventType type, const nlohmann::json& object);
  void keepLeaderStatus(const ObjectKey& key, nlohmann::json& mirrored) const;
  void replaceSecrets(const std::string& ns, std::vector<nlohmann::json> items);
  void applySecretEvent(WatchEventType type, const nlohmann::json& secret);
  // Puts a Secret's material into the certificate store when it differs from what is there.
  void takeSecret(const nlohmann::json& secret);
  void dropSecret(const std::string& secretName);
  bool ownedByItsCertificate(const nlohmann::json& secret, const ObjectKey& certificate);
  void retryWaitingSecret(const ObjectKey& certificate);
  // Both under secretsMutex_.
  void waitFor(const ObjectKey& certificate, const std::string& secretName,
               const nlohmann::json& secret);
  void stopWaiting(const std::string& secretName);

  store::Store& store_;
  certs::CertificateStore& certificates_;
  ClusterStatuses& statuses_;
  const KubernetesSourceOptions options_;
  std::vector<std::unique_ptr<Reflector>> reflectors_;

  std::mutex secretsMutex_;  // guards secretOwners_ (Secret reflectors of several namespaces)
  // "namespace/secret" → the Certificate whose material it holds, for the Secrets taken.
  std::map<std::string, ObjectKey> secretOwners_;
  // Secrets seen before the Certificate they name, taken once it is mirrored: by Certificate,
  // then "namespace/secret"; and the Certificate each waits for, so a deleted Secret stops waiting
  // without a scan.
  std::map<ObjectKey, std::map<std::string, nlohmann::json>> waitingSecrets_;
  std::map<std::string, ObjectKey> waitingFor_;
};

}  // namespace siteplane::kube

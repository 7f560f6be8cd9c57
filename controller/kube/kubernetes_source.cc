#include "controller/kube/kubernetes_source.h"

#include <set>
#include <utility>

#include "common/annotations.h"
#include "common/json_fields.h"
#include "common/logging.h"
#include "controller/kube/tls_secret.h"

namespace siteplane::kube {
namespace {

using nlohmann::json;

auto logger() { return siteplane::logger("controller.kube"); }

constexpr const char* kGroupVersion = "siteplane.io/v1alpha1";

struct Kind {
  const char* kind;
  const char* resource;
};
constexpr Kind kMirroredKinds[] = {{"Site", "sites"},
                                   {"Binding", "bindings"},
                                   {"Certificate", "certificates"},
                                   {"Issuer", "issuers"}};

std::string collectionPath(const std::string& prefix, const std::string& ns,
                           const std::string& resource) {
  return prefix + (ns.empty() ? "" : "/namespaces/" + ns) + "/" + resource;
}

Result<ObjectKey> keyOf(const json& object) {
  return ObjectKey::parse(object.value("kind", "") + "/" + metadataString(object, "namespace") +
                          "/" + metadataString(object, "name"));
}

// What the local store keeps of a cluster object: what reconcilers and the compile pass read.
// The cluster's resourceVersion and managedFields stay behind (the store has its own versions).
json localCopy(const json& cluster) {
  json copy = {{"apiVersion", cluster.value("apiVersion", kGroupVersion)},
               {"kind", cluster.value("kind", "")}};
  json metadata = json::object();
  const json source = cluster.value("metadata", json::object());
  for (const char* field : {"name", "namespace", "uid", "generation", "creationTimestamp",
                            "deletionTimestamp", "labels", "annotations"}) {
    if (source.contains(field)) metadata[field] = source[field];
  }
  // Objects from the cluster are API objects, whatever they claim: the manifest-file annotation
  // would let a cluster user's Site serve (or a Certificate import) any file the process can read,
  // as if the operator's manifest directory had declared it.
  if (metadata.contains("annotations") && metadata["annotations"].is_object())
    metadata["annotations"].erase(kManifestFileAnnotation);
  copy["metadata"] = std::move(metadata);
  for (const char* section : {"spec", "status"}) {
    if (cluster.contains(section)) copy[section] = cluster[section];
  }
  return copy;
}

void logFailures(const std::vector<Result<store::ObjectPtr>>& results, const char* what) {
  for (const auto& result : results) {
    if (!result && result.status().code() != ErrorCode::kNotFound)
      logger()->warn("mirror_write_failed what={} error=\"{}\"", what, result.message());
  }
}

}  // namespace

Result<std::unique_ptr<KubernetesSource>> KubernetesSource::create(
    const KubeConfig& config, store::Store& store, certs::CertificateStore& certificates,
    ClusterStatuses& statuses, KubernetesSourceOptions options) {
  std::unique_ptr<KubernetesSource> source(
      new KubernetesSource(store, certificates, statuses, std::move(options)));
  std::vector<std::string> scopes = source->options_.namespaces;
  if (scopes.empty()) scopes.push_back("");  // one cluster-wide watch
  for (const std::string& ns : scopes) {
    KubernetesSource* self = source.get();
    for (const Kind& kind : kMirroredKinds) {
      Status added = self->addReflector(
          config, collectionPath(std::string("/apis/") + kGroupVersion, ns, kind.resource), "",
          [self, kind = std::string(kind.kind), ns](std::vector<json> items) {
            self->replaceObjects(kind, ns, std::move(items));
          },
          [self](WatchEventType type, const json& object) {
            self->applyObjectEvent(type, object);
          });
      if (!added) return added;
    }
    // Only the Secrets siteplane writes: never every Secret of the cluster into memory.
    Status added = self->addReflector(
        config, collectionPath("/api/v1", ns, "secrets"), kCertificateLabel,
        [self, ns](std::vector<json> items) { self->replaceSecrets(ns, std::move(items)); },
        [self](WatchEventType type, const json& secret) { self->applySecretEvent(type, secret); });
    if (!added) return added;
  }
  return source;
}

KubernetesSource::~KubernetesSource() { stop(); }

Status KubernetesSource::addReflector(const KubeConfig& config, std::string path,
                                      std::string labelSelector,
                                      std::function<void(std::vector<json>)> onReplace,
                                      std::function<void(WatchEventType, const json&)> onEvent) {
  ReflectorOptions options = options_.reflector;
  options.path = std::move(path);
  options.labelSelector = std::move(labelSelector);
  options.onReplace = std::move(onReplace);
  options.onEvent = std::move(onEvent);
  auto reflector = Reflector::create(config, std::move(options));
  if (!reflector) return reflector.status();
  reflectors_.push_back(std::move(reflector).value());
  return Status::ok();
}

Status KubernetesSource::start() {
  for (auto& reflector : reflectors_) reflector->start();
  auto deadline = std::chrono::steady_clock::now() + options_.syncTimeout;
  for (auto& reflector : reflectors_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!reflector->waitForSync(std::max(left, std::chrono::milliseconds(0)))) {
      logger()->warn("kubernetes_sync_pending path={} error=\"{}\" serving=local-cache",
                     reflector->path(), reflector->health().lastError);
    }
  }
  logger()->info("kubernetes_source_started reflectors={} synced={}", reflectors_.size(), synced());
  return Status::ok();
}

void KubernetesSource::stop() {
  for (auto& reflector : reflectors_) reflector->stop();
}

std::vector<WatchHealth> KubernetesSource::health() const {
  std::vector<WatchHealth> all;
  for (const auto& reflector : reflectors_) all.push_back({reflector->path(), reflector->health()});
  return all;
}

bool KubernetesSource::synced() const {
  for (const auto& reflector : reflectors_) {
    if (!reflector->health().synced) return false;
  }
  return true;
}

void KubernetesSource::replaceObjects(const std::string& kind, const std::string& ns,
                                      std::vector<json> items) {
  std::vector<store::WriteOp> writes;
  std::set<ObjectKey> listed;
  for (json& item : items) {
    auto key = keyOf(item);
    if (!key || key->kind != kind) {
      logger()->warn("mirror_object_skipped kind={} error=\"{}\"", kind,
                     key ? "unexpected kind " + key->kind : key.message());
      continue;
    }
    statuses_.set(*key, statusOf(item));
    listed.insert(*key);
    writes.push_back(store::WriteOp::mirror(localCopy(item)));
  }
  // What the cluster no longer has (deleted while no watch was open) goes too.
  store::ListOptions scope{kind, ns.empty() ? std::nullopt : std::optional<std::string>(ns), {}};
  for (const auto& stored : store_.list(scope).items) {
    auto key = keyOf(*stored);
    if (key && !listed.count(*key)) {
      statuses_.erase(*key);
      writes.push_back(store::WriteOp::remove(*key));
    }
  }
  logFailures(store_.writeBatch(std::move(writes)), "list");
  if (kind == "Certificate") {
    for (const ObjectKey& key : listed) retryWaitingSecret(key);
  }
}

void KubernetesSource::applyObjectEvent(WatchEventType type, const json& object) {
  auto key = keyOf(object);
  if (!key) {
    logger()->warn("mirror_object_skipped error=\"{}\"", key.message());
    return;
  }
  if (type == WatchEventType::kDeleted) {
    statuses_.erase(*key);
    logFailures({store_.removeObject(*key)}, "delete");
    return;
  }
  statuses_.set(*key, statusOf(object));
  json local = localCopy(object);
  keepLeaderStatus(*key, local);
  logFailures(store_.writeBatch({store::WriteOp::mirror(std::move(local))}), "watch");
  if (key->kind == "Certificate") retryWaitingSecret(*key);
}

// The watch echo of an earlier status write can arrive after the leader's reconcilers wrote a
// newer one that is not published yet: for the same generation, the leader keeps what it wrote
// (the writer publishes it, since it now differs from the cluster's); a new generation is taken
// whole, and reconciled again anyway.
void KubernetesSource::keepLeaderStatus(const ObjectKey& key, json& mirrored) const {
  if (!options_.keepsLocalStatus || !options_.keepsLocalStatus()) return;
  auto stored = store_.get(key);
  if (!stored) return;
  const json storedMetadata = (*stored)->value("metadata", json::object());
  if (storedMetadata.value("generation", json()) !=
      mirrored["metadata"].value("generation", json()))
    return;
  auto status = (*stored)->find("status");
  if (status == (*stored)->end()) return;
  mirrored["status"] = *status;
}

void KubernetesSource::replaceSecrets(const std::string& ns, std::vector<json> items) {
  std::set<std::string> listed;
  for (const json& secret : items) {
    listed.insert(metadataString(secret, "namespace") + "/" + metadataString(secret, "name"));
    takeSecret(secret);
  }
  std::vector<std::string> gone;
  {
    std::lock_guard lock(secretsMutex_);
    std::vector<std::string> vanished;
    for (const auto& [name, owner] : waitingFor_) {
      if ((ns.empty() || owner.ns == ns) && !listed.count(name)) vanished.push_back(name);
    }
    for (const std::string& name : vanished) stopWaiting(name);
    for (const auto& [name, owner] : secretOwners_) {
      bool inScope = ns.empty() || owner.ns == ns;
      if (inScope && !listed.count(name)) gone.push_back(name);
    }
  }
  for (const std::string& name : gone) dropSecret(name);
}

void KubernetesSource::applySecretEvent(WatchEventType type, const json& secret) {
  std::string name = metadataString(secret, "namespace") + "/" + metadataString(secret, "name");
  if (type == WatchEventType::kDeleted) {
    dropSecret(name);
  } else {
    takeSecret(secret);
  }
}

// A Secret's material is taken for the Certificate its label names only when that Certificate
// names this Secret (spec.secretName, default <name>-tls) and owns it (a controller
// ownerReference with its uid): a label alone, which anyone who can write Secrets can set, must
// not replace a Certificate's key on every replica. A Secret seen before its Certificate waits.
bool KubernetesSource::ownedByItsCertificate(const json& secret, const ObjectKey& certificate) {
  auto stored = store_.get(certificate);
  if (!stored) {
    std::lock_guard lock(secretsMutex_);
    waitFor(certificate, metadataString(secret, "namespace") + "/" + metadataString(secret, "name"),
            secret);
    return false;
  }
  const json uid = metadataString(**stored, "uid");
  bool owned = false;
  const json metadata = secret.value("metadata", json::object());
  const json owners =
      metadata.is_object() ? metadata.value("ownerReferences", json::array()) : json::array();
  for (const json& owner : owners.is_array() ? owners : json::array()) {
    owned = owned || (owner.is_object() && owner.value("uid", json()) == uid &&
                      owner.value("controller", json()) == true &&
                      owner.value("kind", json()) == "Certificate");
  }
  return owned && metadataString(secret, "name") == secretNameOf(**stored);
}

void KubernetesSource::waitFor(const ObjectKey& certificate, const std::string& secretName,
                               const json& secret) {
  stopWaiting(secretName);  // it may have named another Certificate before
  waitingSecrets_[certificate][secretName] = secret;
  waitingFor_[secretName] = certificate;
}

void KubernetesSource::stopWaiting(const std::string& secretName) {
  auto owner = waitingFor_.find(secretName);
  if (owner == waitingFor_.end()) return;
  auto secrets = waitingSecrets_.find(owner->second);
  if (secrets != waitingSecrets_.end()) {
    secrets->second.erase(secretName);
    if (secrets->second.empty()) waitingSecrets_.erase(secrets);
  }
  waitingFor_.erase(owner);
}

void KubernetesSource::retryWaitingSecret(const ObjectKey& certificate) {
  std::map<std::string, json> secrets;
  {
    std::lock_guard lock(secretsMutex_);
    auto found = waitingSecrets_.find(certificate);
    if (found == waitingSecrets_.end()) return;
    secrets = std::move(found->second);
    waitingSecrets_.erase(found);
    for (const auto& [name, secret] : secrets) waitingFor_.erase(name);
  }
  for (const auto& [name, secret] : secrets) takeSecret(secret);
}

void KubernetesSource::takeSecret(const json& secret) {
  std::string name = metadataString(secret, "namespace") + "/" + metadataString(secret, "name");
  auto material = materialOf(secret);
  if (material && !ownedByItsCertificate(secret, material->certificate)) {
    logger()->debug("secret_not_taken secret={} certificate={} reason=not-its-secret-or-owner",
                    name, material->certificate.toString());
    return;
  }
  if (!material) {
    // What was taken before keeps serving; the leader re-issues when the Certificate reconciles.
    logger()->warn("secret_skipped secret={} error=\"{}\"", name, material.message());
    return;
  }
  const std::string storeKey = material->certificate.namespacedName();
  auto stored = certificates_.get(storeKey);
  bool same = stored && *stored && (*stored)->chain == material->bundle.chain &&
              (*stored)->key.toPem() == material->bundle.key.toPem();
  {
    std::lock_guard lock(secretsMutex_);
    secretOwners_[name] = material->certificate;
  }
  if (same) return;
  if (Status put = certificates_.put(storeKey, material->bundle); !put) {
    logger()->error("secret_store_failed secret={} error=\"{}\"", name, put.message());
    return;
  }
  logger()->info("secret_taken secret={} certificate={} thumbprint={}", name, storeKey,
                 material->bundle.chain.front().thumbprint());
  if (options_.onMaterialChanged) options_.onMaterialChanged(material->certificate);
}

void KubernetesSource::dropSecret(const std::string& secretName) {
  ObjectKey owner;
  {
    std::lock_guard lock(secretsMutex_);
    stopWaiting(secretName);
    auto found = secretOwners_.find(secretName);
    if (found == secretOwners_.end()) return;
    owner = found->second;
    secretOwners_.erase(found);
  }
  if (Status removed = certificates_.remove(owner.namespacedName()); !removed) {
    logger()->error("secret_remove_failed secret={} error=\"{}\"", secretName, removed.message());
    return;
  }
  logger()->info("secret_removed secret={} certificate={}", secretName, owner.namespacedName());
  if (options_.onMaterialChanged) options_.onMaterialChanged(owner);
}

}  // namespace siteplane::kube

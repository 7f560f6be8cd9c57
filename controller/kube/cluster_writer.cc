#include "controller/kube/cluster_writer.h"

#include <utility>

#include "common/json_bounds.h"
#include "common/json_fields.h"
#include "common/logging.h"
#include "controller/kube/tls_secret.h"

namespace siteplane::kube {
namespace {

using nlohmann::json;

auto logger() { return siteplane::logger("controller.kube"); }

constexpr const char* kApplyPatch = "application/apply-patch+yaml";  // JSON is YAML

// The kinds whose status the leader publishes, and their resources.
const char* resourceOf(const std::string& kind) {
  if (kind == "Site") return "sites";
  if (kind == "Binding") return "bindings";
  if (kind == "Certificate") return "certificates";
  if (kind == "Issuer") return "issuers";
  return nullptr;
}

std::string applyQuery() { return std::string("?fieldManager=") + kFieldManager + "&force=true"; }

std::string labelOf(const json& object, const char* label) {
  const json metadata = object.is_object() ? object.value("metadata", json::object()) : json();
  const json labels = metadata.is_object() ? metadata.value("labels", json::object()) : json();
  return labels.is_object() && labels.contains(label) && labels[label].is_string()
             ? labels[label].get<std::string>()
             : "";
}

}  // namespace

ClusterWriter::ClusterWriter(KubeClient& client, store::Store& store, ClusterStatuses& statuses,
                             ClusterWriterOptions options)
    : client_(client), store_(store), statuses_(statuses), options_(std::move(options)) {}

ClusterWriter::~ClusterWriter() { stop(); }

void ClusterWriter::start() {
  subscription_ = store_.subscribe([this](const store::WatchEvent& event) { onStoreEvent(event); });
  thread_ = std::thread([this] { run(); });
}

void ClusterWriter::stop() {
  subscription_.cancel();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ClusterWriter::onStoreEvent(const store::WatchEvent& event) {
  if (event.type == store::WatchEvent::Type::kDeleted) {
    std::lock_guard lock(mutex_);
    publishedEvents_.erase(event.key);
    return;
  }
  if (!options_.isLeader()) return;  // publishAll() catches up when this replica leads
  if (event.key.kind == "Event") {
    queue(event.key);
  } else if (resourceOf(event.key.kind)) {
    auto cluster = statuses_.get(event.key);
    if (cluster && *cluster != statusOf(*event.object)) queue(event.key);
  }
}

void ClusterWriter::publishAll() {
  for (const char* kind : {"Site", "Binding", "Certificate", "Issuer"}) {
    for (const auto& object : store_.list({kind, std::nullopt, {}}).items) {
      const json metadata = object->value("metadata", json::object());
      auto key = ObjectKey::parse(std::string(kind) + "/" + stringMember(metadata, "namespace") +
                                  "/" + stringMember(metadata, "name"));
      if (!key) continue;
      auto cluster = statuses_.get(*key);
      if (cluster && *cluster != statusOf(*object)) queue(*key);
    }
  }
}

void ClusterWriter::queue(const ObjectKey& key) {
  {
    std::lock_guard lock(mutex_);
    if (!queued_.insert(key).second) return;
    pending_.push_back(key);
  }
  wake_.notify_all();
}

void ClusterWriter::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (pending_.empty()) {
      wake_.wait(lock);
      continue;
    }
    ObjectKey key = pending_.front();
    pending_.pop_front();
    queued_.erase(key);
    lock.unlock();
    bool done = publish(key);
    lock.lock();
    if (!done && !stopping_) {
      // Try again after a pause; a newer change queued meanwhile is the same key.
      wake_.wait_for(lock, options_.retryDelay, [this] { return stopping_; });
      if (queued_.insert(key).second) pending_.push_back(key);
    }
  }
}

bool ClusterWriter::publish(const ObjectKey& key) {
  if (!options_.isLeader()) return true;  // dropped: the next leader publishes it
  auto object = store_.get(key);
  if (!object) return true;  // deleted meanwhile
  try {
    return key.kind == "Event" ? publishEvent(key, **object) : publishStatus(key, **object);
  } catch (const std::exception& error) {
    // A stored object this cannot encode is logged, never the end of the writing thread.
    logger()->error("cluster_write_failed key={} error=\"{}\"", key.toString(), error.what());
    count(&ClusterWriterCounts::failures);
    return true;
  }
}

bool ClusterWriter::publishStatus(const ObjectKey& key, const json& object) {
  json status = statusOf(object);
  auto cluster = statuses_.get(key);
  if (!cluster || *cluster == status || status.is_null()) return true;
  json apply = {{"apiVersion", object.value("apiVersion", "siteplane.io/v1alpha1")},
                {"kind", key.kind},
                {"metadata", {{"name", key.name}, {"namespace", key.ns}}},
                {"status", status}};
  std::string path = "/apis/siteplane.io/v1alpha1/namespaces/" + key.ns + "/" +
                     resourceOf(key.kind) + "/" + key.name + "/status" + applyQuery();
  if (!options_.isLeader()) return true;
  auto answer = client_.request("PATCH", path, apply.dump(), {.contentType = kApplyPatch});
  if (!answer || (answer->status != 200 && answer->status != 201)) {
    if (answer && answer->status == 404) return true;  // gone from the cluster
    logger()->warn(
        "status_write_failed key={} error=\"{}\"", key.toString(),
        answer ? "HTTP " + std::to_string(answer->status) + ": " + statusMessage(answer->body)
               : answer.message());
    count(&ClusterWriterCounts::failures);
    return false;
  }
  statuses_.set(key, status);
  count(&ClusterWriterCounts::statusWrites);
  logger()->debug("status_written key={}", key.toString());
  return true;
}

bool ClusterWriter::publishEvent(const ObjectKey& key, const json& object) {
  json apply = object;
  json& metadata = apply["metadata"];
  for (const char* field :
       {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"})
    metadata.erase(field);
  {
    std::lock_guard lock(mutex_);
    auto published = publishedEvents_.find(key);
    if (published != publishedEvents_.end() && published->second == apply) return true;
  }
  std::string path = "/api/v1/namespaces/" + key.ns + "/events/" + key.name + applyQuery();
  if (!options_.isLeader()) return true;
  auto answer = client_.request("PATCH", path, apply.dump(), {.contentType = kApplyPatch});
  if (!answer || (answer->status != 200 && answer->status != 201)) {
    logger()->warn(
        "event_write_failed key={} error=\"{}\"", key.toString(),
        answer ? "HTTP " + std::to_string(answer->status) + ": " + statusMessage(answer->body)
               : answer.message());
    count(&ClusterWriterCounts::failures);
    return false;
  }
  std::lock_guard lock(mutex_);
  publishedEvents_[key] = std::move(apply);
  ++counts_.eventWrites;
  return true;
}

Status ClusterWriter::writeSecret(const std::string& storeKey,
                                  const certs::CertificateBundle& bundle) {
  auto key = ObjectKey::parse("Certificate/" + storeKey);
  if (!key) return Status::error("no Certificate " + storeKey);
  auto certificate = store_.get(*key);
  if (!certificate) return certificate.status();
  const std::string secretName = secretNameOf(**certificate);
  const std::string path = "/api/v1/namespaces/" + key->ns + "/secrets/" + secretName;
  if (!options_.isLeader())
    return Status::error(ErrorCode::kUnavailable, "this replica does not hold the leader Lease");
  // A Secret of that name that is not this Certificate's is never taken over: a new one is
  // created (a Secret made meanwhile by someone else is a Conflict, not ours), an existing one of
  // ours is applied at the version checked, so one replaced meanwhile is a Conflict too.
  auto existing = client_.request("GET", path);
  if (!existing) return existing.status();
  json secret = tlsSecretFor(**certificate, bundle);
  if (existing->status == 200) {
    auto parsed = parseJsonBounded(existing->body, "Secret " + secretName, 64);
    if (!parsed || labelOf(*parsed, kCertificateLabel) != key->name)
      return Status::error("Secret " + key->ns + "/" + secretName +
                           " exists and does not belong to Certificate " + key->name + " (label " +
                           kCertificateLabel + ")");
    secret["metadata"]["resourceVersion"] = metadataString(*parsed, "resourceVersion");
  } else if (existing->status != 404) {
    return Status::error(ErrorCode::kUnavailable, "reading Secret " + secretName + ": HTTP " +
                                                      std::to_string(existing->status) + ": " +
                                                      statusMessage(existing->body));
  }
  if (!options_.isLeader())
    return Status::error(ErrorCode::kUnavailable, "this replica does not hold the leader Lease");
  auto answer =
      existing->status == 404
          ? client_.request(
                "POST", "/api/v1/namespaces/" + key->ns + "/secrets?fieldManager=" + kFieldManager,
                secret.dump())
          : client_.request("PATCH", path + applyQuery(), secret.dump(),
                            {.contentType = kApplyPatch});
  if (!answer) return answer.status();
  if (answer->status != 200 && answer->status != 201) {
    count(&ClusterWriterCounts::failures);
    return Status::error(ErrorCode::kUnavailable, "writing Secret " + key->ns + "/" + secretName +
                                                      ": HTTP " + std::to_string(answer->status) +
                                                      ": " + statusMessage(answer->body));
  }
  count(&ClusterWriterCounts::secretWrites);
  logger()->info("secret_written secret={}/{} certificate={} thumbprint={}", key->ns, secretName,
                 storeKey, bundle.chain.front().thumbprint());
  return Status::ok();
}

Result<certs::CertificateBundle> ClusterWriter::readSecret(const std::string& ns,
                                                           const std::string& name) {
  auto answer = client_.request("GET", "/api/v1/namespaces/" + ns + "/secrets/" + name);
  if (!answer) return answer.status();
  if (answer->status == 404) return Status::error("Secret " + ns + "/" + name + " not found");
  if (answer->status != 200) {
    return Status::error("reading Secret " + ns + "/" + name + ": HTTP " +
                         std::to_string(answer->status) + ": " + statusMessage(answer->body));
  }
  auto secret = parseJsonBounded(answer->body, "Secret " + ns + "/" + name, 64);
  if (!secret) return secret.status();
  return bundleOf(*secret);
}

ClusterWriterCounts ClusterWriter::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void ClusterWriter::count(uint64_t ClusterWriterCounts::*field) {
  std::lock_guard lock(mutex_);
  ++(counts_.*field);
}

}  // namespace siteplane::kube

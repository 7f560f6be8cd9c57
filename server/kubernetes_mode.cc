#include "server/kubernetes_mode.h"

#include <unistd.h>

#include <chrono>
#include <thread>
#include <utility>

#include "common/logging.h"

namespace siteplane::server {
namespace {

// The holder identity: the pod's name from the downward API, else the host name.
std::string defaultIdentity() {
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) return pod;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0]) return host;
  return "siteplane-" + std::to_string(::getpid());
}

}  // namespace

Result<std::unique_ptr<KubernetesMode>> KubernetesMode::create(
    const KubernetesOptions& options, store::Store& store, certs::CertificateStore& certificates,
    Hooks hooks) {
  std::unique_ptr<KubernetesMode> mode(new KubernetesMode());
  mode->hooks_ = std::move(hooks);
  // Each part has its own client, so that stopping one (a cancel) ends only its own requests.
  auto writerClient = kube::KubeClient::create(options.config);
  if (!writerClient) return writerClient.status();
  mode->writerClient_ = std::move(writerClient).value();
  auto electionClient = kube::KubeClient::create(options.config);
  if (!electionClient) return electionClient.status();
  mode->electionClient_ = std::move(electionClient).value();

  KubernetesMode* self = mode.get();
  mode->writer_ = std::make_unique<kube::ClusterWriter>(
      *mode->writerClient_, store, mode->statuses_,
      kube::ClusterWriterOptions{.isLeader = [self] { return self->isLeader(); }});

  kube::LeaderElectionOptions election;
  election.ns = !options.leaseNamespace.empty() ? options.leaseNamespace
                : !options.config.ns.empty()    ? options.config.ns
                                                : "default";
  election.name = options.leaseName;
  election.identity = options.identity.empty() ? defaultIdentity() : options.identity;
  election.leaseDuration = options.leaseDuration;
  election.renewDeadline = options.renewDeadline;
  election.retryPeriod = options.retryPeriod;
  election.onStartedLeading = [self] {
    logger("server")->info("leading identity={}", self->elector_->identity());
    self->writer_->publishAll();
    if (self->hooks_.startedLeading) self->hooks_.startedLeading();
  };
  election.onStoppedLeading = [self] {
    logger("server")->warn("stopped_leading identity={}", self->elector_->identity());
  };
  mode->elector_ = std::make_unique<kube::LeaderElector>(*mode->electionClient_, election);

  kube::KubernetesSourceOptions sourceOptions;
  sourceOptions.namespaces = options.namespaces;
  sourceOptions.onMaterialChanged = [self](const ObjectKey& certificate) {
    if (self->hooks_.materialChanged) self->hooks_.materialChanged(certificate);
  };
  sourceOptions.syncTimeout = options.syncTimeout;
  sourceOptions.keepsLocalStatus = [self] { return self->isLeader(); };
  sourceOptions.reflector = options.reflector;
  auto source = kube::KubernetesSource::create(options.config, store, certificates, mode->statuses_,
                                               std::move(sourceOptions));
  if (!source) return source.status();
  mode->ownedSource_ = std::move(source).value();
  mode->source_ = mode->ownedSource_.get();
  return mode;
}

KubernetesMode::~KubernetesMode() { stop(); }

std::unique_ptr<source::Source> KubernetesMode::takeSource() { return std::move(ownedSource_); }

Status KubernetesMode::start() {
  writer_->start();
  started_ = true;
  if (source_->synced()) return startElection();
  // A replica that could lead before its Secrets are mirrored would find no material and issue
  // every Certificate again: it stands for election only once every first list has arrived.
  electionWaiter_ = std::thread([this] {
    while (!stopping_ && !source_->synced())
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (stopping_) return;
    if (Status elected = startElection(); !elected)
      logger("server")->error("leader_election_failed error=\"{}\"", elected.message());
  });
  return Status::ok();
}

Status KubernetesMode::startElection() {
  if (Status elected = elector_->start(); !elected)
    return std::move(elected).withContext("leader election");
  return Status::ok();
}

void KubernetesMode::stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  if (electionWaiter_.joinable()) electionWaiter_.join();
  elector_->stop();
  // A status or Secret write in flight ends now rather than at its timeout.
  writerClient_->cancel();
  writer_->stop();
}

std::vector<apiserver::ReadyCheck> KubernetesMode::readyChecks() const {
  const kube::KubernetesSource* source = source_;
  const kube::LeaderElector* elector = elector_.get();
  std::vector<apiserver::ReadyCheck> checks;
  checks.push_back({"kubernetes-sync",
                    [source] {
                      for (const auto& watch : source->health()) {
                        if (!watch.health.synced)
                          return "no list of " + watch.path + " yet: " + watch.health.lastError;
                      }
                      return std::string();
                    },
                    [source] {
                      size_t watching = 0;
                      auto all = source->health();
                      for (const auto& watch : all) watching += watch.health.watching ? 1 : 0;
                      return std::to_string(watching) + "/" + std::to_string(all.size()) +
                             " watches open";
                    }});
  checks.push_back({"leader-election", [] { return std::string(); },
                    [elector] {
                      std::string holder = elector->observedHolder();
                      return elector->isLeader()
                                 ? "leader: " + elector->identity()
                                 : "follower; leader: " + (holder.empty() ? "none" : holder);
                    }});
  return checks;
}

Status KubernetesMode::writeMetrics(metrics::ExpositionWriter& out) const {
  using metrics::MetricType;
  Status written = out.declare("siteplane_leader", MetricType::kGauge,
                               "1 when this replica holds the leader Lease.");
  if (written) written = out.add("siteplane_leader", {}, elector_->isLeader() ? 1.0 : 0.0);
  if (written)
    written = out.declare("siteplane_leader_transitions_total", MetricType::kCounter,
                          "Times this replica became leader.");
  if (written) written = out.add("siteplane_leader_transitions_total", {}, elector_->transitions());
  if (written)
    written = out.declare("siteplane_kubernetes_watch_up", MetricType::kGauge,
                          "1 while the watch of the resource is open.");
  if (written)
    written = out.declare("siteplane_kubernetes_lists_total", MetricType::kCounter,
                          "Full lists of the resource (the first sync and every relist).");
  if (written)
    written = out.declare("siteplane_kubernetes_watch_failures_total", MetricType::kCounter,
                          "Failed list or watch requests of the resource.");
  for (const auto& watch : source_->health()) {
    metrics::Labels labels{{"resource", watch.path}};
    if (written)
      written = out.add("siteplane_kubernetes_watch_up", labels, watch.health.watching ? 1.0 : 0.0);
    if (written) written = out.add("siteplane_kubernetes_lists_total", labels, watch.health.lists);
    if (written)
      written = out.add("siteplane_kubernetes_watch_failures_total", labels, watch.health.failures);
  }
  kube::ClusterWriterCounts counts = writer_->counts();
  if (written)
    written = out.declare("siteplane_kubernetes_writes_total", MetricType::kCounter,
                          "Writes of the leader to the cluster by kind (status, event, secret).");
  if (written)
    written =
        out.add("siteplane_kubernetes_writes_total", {{"kind", "status"}}, counts.statusWrites);
  if (written)
    written = out.add("siteplane_kubernetes_writes_total", {{"kind", "event"}}, counts.eventWrites);
  if (written)
    written =
        out.add("siteplane_kubernetes_writes_total", {{"kind", "secret"}}, counts.secretWrites);
  if (written)
    written = out.declare("siteplane_kubernetes_write_failures_total", MetricType::kCounter,
                          "Writes to the cluster that failed (tried again).");
  if (written) written = out.add("siteplane_kubernetes_write_failures_total", {}, counts.failures);
  return written;
}

bool KubernetesMode::clusterCarriesChallenge(const std::string& storeKey,
                                             const std::string& token) const {
  const size_t slash = storeKey.find('/');
  auto status =
      statuses_.get({"Certificate", storeKey.substr(0, slash), storeKey.substr(slash + 1)});
  if (!status || !status->is_object()) return false;
  const nlohmann::json authorizations = status->value(
      nlohmann::json::json_pointer("/acme/order/authorizations"), nlohmann::json::array());
  if (!authorizations.is_array()) return false;
  for (const auto& authorization : authorizations)
    if (authorization.is_object() && authorization.value("token", "") == token) return true;
  return false;
}

}  // namespace siteplane::server

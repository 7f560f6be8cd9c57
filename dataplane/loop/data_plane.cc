#include "dataplane/loop/data_plane.h"

#include <thread>

#include "common/logging.h"
#include "dataplane/loop/address_limiter.h"
#include "dataplane/loop/worker.h"

namespace siteplane::loop {
namespace {

const std::shared_ptr<spdlog::logger>& log() {
  static auto instance = logger("dataplane.loop");
  return instance;
}

}  // namespace

Result<std::unique_ptr<DataPlane>> DataPlane::create(DataPlaneOptions options) {
  using Out = Result<std::unique_ptr<DataPlane>>;
  if (options.workers == 0) options.workers = std::max(1u, std::thread::hardware_concurrency());
  if (options.workers > 256)
    return Out::error("workers: at most 256, got " + std::to_string(options.workers));
  const Limits& limits = options.limits;
  if (limits.maxHeaderBytes < 256) return Out::error("limits.maxHeaderBytes: at least 256");
  if (limits.maxConnectionsPerWorker == 0)
    return Out::error("limits.maxConnectionsPerWorker: at least 1");
  if (limits.headerTimeout.count() <= 0 || limits.keepAliveTimeout.count() <= 0 ||
      limits.handshakeTimeout.count() <= 0)
    return Out::error("limits: timeouts must be positive");
  if (options.drainTimeout.count() < 0) return Out::error("drainTimeout: must not be negative");
  std::unique_ptr<DataPlane> plane(new DataPlane(options));
  plane->accessLog_ = std::make_unique<http::AccessLog>(plane->options_.accessLog);
  plane->addressLimiter_ =
      std::make_unique<AddressLimiter>(plane->options_.limits.maxConnectionsPerAddress);
  for (unsigned i = 0; i < plane->options_.workers; ++i)
    plane->workers_.push_back(
        std::make_unique<Worker>(*plane, i, plane->options_, *plane->accessLog_));
  return plane;
}

DataPlane::DataPlane(DataPlaneOptions options) : options_(options) {}

DataPlane::~DataPlane() {
  if (started_ && !stopped_) stop(std::chrono::milliseconds(0));
}

Status DataPlane::start() {
  if (started_) return Status::error("data plane already started");
  for (auto& worker : workers_) {
    if (auto started = worker->start(); !started) {
      stop(std::chrono::milliseconds(0));
      return started;
    }
    started_ = true;
  }
  log()->info("dataplane_started workers={}", workers_.size());
  return Status::ok();
}

void DataPlane::publish(std::shared_ptr<const table::BindingTable> table,
                        std::function<void(const table::PublishReport&)> onApplied) {
  auto publication = std::make_shared<Publication>();
  publication->table = table;
  publication->onApplied = std::move(onApplied);
  publication->report.generation = table ? table->generation() : 0;
  std::lock_guard lock(publishMutex_);
  // Open what is new; a listener that fails is reported and simply absent from the workers.
  std::unordered_map<table::ListenerKey, std::vector<std::string>, table::ListenerKeyHash> next;
  if (table) {
    for (const auto& listener : table->listeners()) {
      table::ListenerReport report;
      report.key = listener->key();
      if (auto kept = listening_.find(report.key); kept != listening_.end()) {
        report.listening = true;
        report.boundAddresses = kept->second;
        next.emplace(report.key, kept->second);
      } else {
        auto sockets = ListenerSockets::open(report.key, static_cast<unsigned>(workers_.size()));
        if (sockets) {
          report.listening = true;
          report.boundAddresses = sockets->boundAddresses();
          next.emplace(report.key, sockets->boundAddresses());
          publication->opened.push_back({report.key, std::move(sockets).value()});
        } else {
          report.error = sockets.message();
          log()->warn("listener_bind_failed address={} port={} error={}", report.key.address,
                      report.key.port, report.error);
        }
      }
      publication->report.listeners.push_back(std::move(report));
    }
  }
  for (const auto& [key, addresses] : listening_)
    if (!next.count(key)) publication->removed.push_back(key);
  listening_ = std::move(next);
  log()->info("table_published generation={} listeners={} opened={} removed={}",
              publication->report.generation, publication->report.listeners.size(),
              publication->opened.size(), publication->removed.size());
  publication->remaining.store(static_cast<unsigned>(workers_.size()));
  for (auto& worker : workers_) worker->post(publication);
}

void DataPlane::applied(const std::shared_ptr<const table::BindingTable>& table,
                        const table::PublishReport& report) {
  std::lock_guard lock(currentMutex_);
  current_ = table;
  currentListeners_ = report.listeners;
}

std::shared_ptr<const table::BindingTable> DataPlane::currentTable() const {
  std::lock_guard lock(currentMutex_);
  return current_;
}

DataPlane::LiveTable DataPlane::liveTable() const {
  std::lock_guard lock(currentMutex_);
  return LiveTable{current_, currentListeners_};
}

Stats DataPlane::stats() const {
  Stats stats;
  for (const auto& worker : workers_) worker->stats().addTo(stats);
  return stats;
}

void DataPlane::stop(std::chrono::milliseconds drain) {
  if (stopped_) return;
  stopped_ = true;
  for (auto& worker : workers_) worker->postStop(drain);
  for (auto& worker : workers_) worker->join();
  {
    std::lock_guard lock(currentMutex_);
    current_.reset();
    currentListeners_.clear();
  }
  log()->info("dataplane_stopped");
}

}  // namespace siteplane::loop

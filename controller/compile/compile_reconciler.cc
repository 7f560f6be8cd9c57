#include "controller/compile/compile_reconciler.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <future>
#include <optional>

#include "common/logging.h"
#include "controller/api/object_codec.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::compile {
namespace {

using api::ConditionStatus;

// A stored object decoded, with the JSON it came from (status compare, resourceVersion).
template <typename T>
struct Stored {
  T object;
  store::ObjectPtr json;
};

template <typename T>
std::vector<Stored<T>> listKind(store::Store& store, spdlog::logger& log) {
  std::vector<Stored<T>> out;
  store::ObjectList list = store.list({T::kKind, std::nullopt, {}});
  out.reserve(list.items.size());
  for (auto& item : list.items) {
    api::DecodeResult decoded = api::decodeObject(*item);
    if (!decoded.ok()) {
      // Sources validate before storing, so this is an object written by an older version or by
      // hand; it is left out of the table rather than failing the whole pass.
      log.warn(
          "stored_object_invalid kind={} name={} error=\"{}\"", T::kKind,
          item->value("/metadata/name"_json_pointer, std::string()),
          decoded.diagnostics.empty() ? std::string() : decoded.diagnostics.front().toString());
      continue;
    }
    auto* typed = std::get_if<T>(&*decoded.object);
    if (!typed) continue;
    out.push_back({std::move(*typed), item});
  }
  return out;
}

// The status update that makes the stored object's status `object`'s, or nothing when it already
// is. The update carries the resourceVersion it was computed from, so a write that loses to a
// concurrent change is a Conflict; that change queues another pass, which writes the status then.
std::optional<store::WriteOp> statusUpdate(const api::Object& object,
                                           const store::ObjectPtr& stored) {
  nlohmann::json encoded = api::encodeObject(object);
  nlohmann::json status = encoded.value("status", nlohmann::json::object());
  nlohmann::json current = stored->value("status", nlohmann::json::object());
  if (status == current) return std::nullopt;
  nlohmann::json update = {{"apiVersion", (*stored)["apiVersion"]},
                           {"kind", (*stored)["kind"]},
                           {"metadata",
                            {{"name", (*stored)["metadata"]["name"]},
                             {"namespace", (*stored)["metadata"]["namespace"]},
                             {"resourceVersion", (*stored)["metadata"]["resourceVersion"]}}},
                           {"status", std::move(status)}};
  return store::WriteOp::updateStatus(std::move(update));
}

// Hands freed heap back to the kernel. A pass over thousands of objects, and the manifest scan
// and Certificate imports that led to it, free hundreds of MiB spread over the malloc arenas of
// the reconcile threads, which glibc keeps for reuse: measured at 10,000 bindings after one edit,
// 1,087 MiB resident of which 474 MiB were free. Once per pass (not per request) the walk costs
// little next to the pass.
void releaseFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

struct StoredObjects {
  std::vector<Stored<api::Site>> sites;
  std::vector<Stored<api::Binding>> bindings;
  std::vector<Stored<api::Certificate>> certificates;
};

// Table generations continue from the ones statuses already carry, so that tableGeneration never
// goes backwards across a restart.
uint64_t generationAfter(const std::vector<Stored<api::Binding>>& bindings) {
  uint64_t highest = 0;
  for (const auto& binding : bindings)
    highest = std::max<uint64_t>(highest, binding.object.status.tableGeneration);
  return highest + 1;
}

CompileInput compileInput(const StoredObjects& stored, uint64_t generation, api::Time now) {
  CompileInput input;
  input.generation = generation;
  input.now = now;
  input.sites.reserve(stored.sites.size());
  for (const auto& site : stored.sites) input.sites.push_back(site.object);
  input.bindings.reserve(stored.bindings.size());
  for (const auto& binding : stored.bindings) input.bindings.push_back(binding.object);
  input.certificates.reserve(stored.certificates.size());
  for (const auto& certificate : stored.certificates)
    input.certificates.push_back(certificate.object);
  return input;
}

// The data plane's report by listener.
class ListenerIndex {
 public:
  explicit ListenerIndex(const table::PublishReport& report) {
    for (const auto& listener : report.listeners) {
      byKey_.emplace(listener.key, &listener);
      if (!listener.listening) bindFailed_ = true;
    }
  }
  const table::ListenerReport* find(const table::ListenerKey& key) const {
    auto found = byKey_.find(key);
    return found == byKey_.end() ? nullptr : found->second;
  }
  bool bindFailed() const { return bindFailed_; }

 private:
  std::unordered_map<table::ListenerKey, const table::ListenerReport*, table::ListenerKeyHash>
      byKey_;
  bool bindFailed_ = false;
};

// A binding's status after the pass: the plan's conditions, then Programmed from the data plane's
// report for a binding in the table, and where and since which table it is served (`live`).
api::BindingStatus bindingStatus(const api::Binding& binding, const BindingPlan& plan,
                                 const ListenerIndex& listeners, const CompileInput& input,
                                 bool& live) {
  const int64_t generation = binding.metadata.generation;
  api::BindingStatus status = binding.status;
  mergeConditions(status.conditions, plan.conditions, generation, input.now);
  const table::ListenerReport* listener = plan.inTable ? listeners.find(plan.listener) : nullptr;
  live = listener && listener->listening;
  if (plan.inTable && !live) {
    std::string error = listener ? listener->error : "the data plane did not report it";
    mergeConditions(status.conditions,
                    {{api::condition_type::kProgrammed, ConditionStatus::kFalse,
                      reason::kPortUnavailable, std::move(error)}},
                    generation, input.now);
  }
  if (!live) {
    status.listenAddress.clear();
    status.servedThumbprint.clear();
    status.tableGeneration = 0;
    return status;
  }
  const std::string listenAddress = fmt::format("{}", fmt::join(listener->boundAddresses, ","));
  const std::string thumbprint = plan.tls ? plan.tls->thumbprint() : std::string();
  mergeConditions(status.conditions,
                  {{api::condition_type::kProgrammed, ConditionStatus::kTrue, reason::kProgrammed,
                    fmt::format("served on {}", listenAddress)}},
                  generation, input.now);
  // tableGeneration says since which table the binding is served as it is now; it moves only when
  // what is served for it changes, so an unrelated edit does not rewrite every status.
  const api::Condition* previous =
      api::findCondition(binding.status.conditions, api::condition_type::kProgrammed);
  const bool same = binding.status.listenAddress == listenAddress &&
                    binding.status.servedThumbprint == thumbprint &&
                    binding.status.tableGeneration != 0 && previous &&
                    previous->status == ConditionStatus::kTrue &&
                    previous->observedGeneration == generation;
  status.listenAddress = listenAddress;
  status.servedThumbprint = thumbprint;
  if (!same) status.tableGeneration = static_cast<int64_t>(input.generation);
  return status;
}

}  // namespace

CompileReconciler::CompileReconciler(store::Store& store,
                                     const certs::CertificateStore& certificates,
                                     PublishFunction publish, CompileOptions options)
    : store_(store),
      publish_(std::move(publish)),
      options_(std::move(options)),
      compiler_(certificates, options_.manifestsDir,
                options_.stateDir.empty() ? std::vector<std::filesystem::path>{}
                                          : std::vector<std::filesystem::path>{options_.stateDir},
                options_.importPolicy) {}

void CompileReconciler::keysFor(const store::WatchEvent& event,
                                std::vector<reconcile::QueuedKey>& keys) noexcept {
  const std::string& kind = event.key.kind;
  if (kind == api::Certificate::kKind) {
    // Certificate status (Ready, thumbprint) is an input of the table.
    keys.push_back({kKey, options_.debounce});
    return;
  }
  if (kind != api::Site::kKind && kind != api::Binding::kKind) return;
  std::string name = event.key.toString();
  int64_t generation = 0;
  if (event.object) {
    auto found = event.object->find("metadata");
    if (found != event.object->end()) generation = found->value("generation", int64_t{0});
  }
  {
    std::lock_guard lock(seenMutex_);
    if (event.type == store::WatchEvent::Type::kDeleted) {
      seen_.erase(name);
    } else {
      auto [entry, inserted] = seen_.try_emplace(name, generation);
      if (!inserted && entry->second == generation &&
          event.type == store::WatchEvent::Type::kModified)
        return;
      entry->second = generation;
    }
  }
  keys.push_back({kKey, options_.debounce});
}

void CompileReconciler::initialKeys(std::vector<reconcile::QueuedKey>& keys) noexcept {
  keys.push_back({kKey, options_.debounce});
}

reconcile::ReconcileResult CompileReconciler::reconcile(const std::string& key) noexcept {
  if (key != kKey) return reconcile::ReconcileResult::done();
  try {
    // After run() returns, so that what the pass itself allocated is freed too.
    reconcile::ReconcileResult result = run();
    releaseFreedMemory();
    return result;
  } catch (const std::exception& error) {
    return reconcile::ReconcileResult::retry(std::string("compile pass: ") + error.what());
  }
}

reconcile::ReconcileResult CompileReconciler::run() {
  auto log = logger("controller.compile");
  StoredObjects stored{listKind<api::Site>(store_, *log), listKind<api::Binding>(store_, *log),
                       listKind<api::Certificate>(store_, *log)};
  if (nextGeneration_ == 0) nextGeneration_ = generationAfter(stored.bindings);
  CompileInput input = compileInput(stored, nextGeneration_++, api::now(*options_.clock));

  CompileOutput output = compiler_.compile(input);
  // Registered again on every pass while there are any: that re-arms the watch of a directory
  // replaced since (FileWatcher).
  if (options_.watchFiles && (!output.crlFiles.empty() || !watchedCrls_.empty())) {
    watchedCrls_ = output.crlFiles;
    options_.watchFiles(kKey, watchedCrls_);
  }

  std::optional<table::PublishReport> report = publishAndWait(output.table);
  if (!report)
    return reconcile::ReconcileResult::retry(
        fmt::format("the data plane did not apply table {} within {} ms", input.generation,
                    options_.reportTimeout.count()));
  const ListenerIndex listeners(*report);

  size_t programmed = 0;
  std::vector<store::WriteOp> statusWrites;
  for (size_t i = 0; i < stored.bindings.size(); ++i) {
    api::Binding binding = stored.bindings[i].object;
    bool live = false;
    binding.status = bindingStatus(binding, output.bindings[i], listeners, input, live);
    if (live) ++programmed;
    if (auto op = statusUpdate(api::Object{std::move(binding)}, stored.bindings[i].json))
      statusWrites.push_back(std::move(*op));
  }
  for (size_t i = 0; i < stored.sites.size(); ++i) {
    api::Site site = stored.sites[i].object;
    site.status.siteId = output.sites[i].siteId;
    mergeConditions(site.status.conditions, {output.sites[i].ready}, site.metadata.generation,
                    input.now);
    if (auto op = statusUpdate(api::Object{std::move(site)}, stored.sites[i].json))
      statusWrites.push_back(std::move(*op));
  }
  const size_t statusesWritten = writeStatuses(std::move(statusWrites), *log);

  log->info(
      "reconcile key={} generation={} sites={} bindings={} programmed={} listeners={} "
      "contexts_built={} contexts_reused={} statuses_written={}",
      kKey, input.generation, stored.sites.size(), stored.bindings.size(), programmed,
      report->listeners.size(), output.contextsBuilt, output.contextsReused, statusesWritten);
  return nextPass(listeners.bindFailed(), !output.crlFiles.empty());
}

// Publish and wait for the report: the reconcile thread waits, the data plane never does.
std::optional<table::PublishReport> CompileReconciler::publishAndWait(
    std::shared_ptr<const table::BindingTable> table) {
  auto applied = std::make_shared<std::promise<table::PublishReport>>();
  std::future<table::PublishReport> reportFuture = applied->get_future();
  publish_(std::move(table), [applied](const table::PublishReport& report) {
    try {
      applied->set_value(report);
    } catch (const std::exception&) {
      // Only a second call could throw (promise already satisfied); nothing to do.
    }
  });
  if (reportFuture.wait_for(options_.reportTimeout) != std::future_status::ready)
    return std::nullopt;
  return reportFuture.get();
}

// Every changed status in one store batch: after the first table of thousands of bindings that is
// two filesystem syncs rather than two fsyncs per binding. Returns how many were written.
size_t CompileReconciler::writeStatuses(std::vector<store::WriteOp> writes, spdlog::logger& log) {
  size_t written = writes.size();
  if (writes.empty()) return 0;
  auto results = store_.writeBatch(std::move(writes));
  for (const auto& result : results) {
    if (result) continue;
    --written;
    log.debug("status_not_written error=\"{}\"", result.message());
  }
  return written;
}

// When the pass runs again without an edit: soon after a failed bind (a port freed later is
// picked up), regularly while sites name CRLs (a missed change, a passing nextUpdate).
reconcile::ReconcileResult CompileReconciler::nextPass(bool bindFailed, bool watchesCrls) const {
  if (bindFailed)
    return reconcile::ReconcileResult::requeueAfter(
        watchesCrls ? std::min(options_.bindRetry, options_.crlCheckInterval) : options_.bindRetry);
  if (watchesCrls) return reconcile::ReconcileResult::requeueAfter(options_.crlCheckInterval);
  return reconcile::ReconcileResult::done();
}

}  // namespace siteplane::compile

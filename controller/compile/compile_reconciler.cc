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
  auto sites = listKind<api::Site>(store_, *log);
  auto bindings = listKind<api::Binding>(store_, *log);
  auto certificates = listKind<api::Certificate>(store_, *log);

  if (nextGeneration_ == 0) {
    // Table generations continue from the ones statuses already carry, so that tableGeneration
    // never goes backwards across a restart.
    uint64_t highest = 0;
    for (const auto& binding : bindings)
      highest = std::max<uint64_t>(highest, binding.object.status.tableGeneration);
    nextGeneration_ = highest + 1;
  }

  CompileInput input;
  input.generation = nextGeneration_++;
  input.now = options_.now();
  input.sites.reserve(sites.size());
  for (const auto& site : sites) input.sites.push_back(site.object);
  input.bindings.reserve(bindings.size());
  for (const auto& binding : bindings) input.bindings.push_back(binding.object);
  input.certificates.reserve(certificates.size());
  for (const auto& certificate : certificates) input.certificates.push_back(certificate.object);

  CompileOutput output = compiler_.compile(input);
  // Registered again on every pass while there are any: that re-arms the watch of a directory
  // replaced since (FileWatcher).
  if (options_.watchFiles && (!output.crlFiles.empty() || !watchedCrls_.empty())) {
    watchedCrls_ = output.crlFiles;
    options_.watchFiles(kKey, watchedCrls_);
  }

  // Publish and wait for the report: the reconcile thread waits, the data plane never does.
  auto applied = std::make_shared<std::promise<loop::PublishReport>>();
  std::future<loop::PublishReport> reportFuture = applied->get_future();
  publish_(output.table, [applied](const loop::PublishReport& report) {
    try {
      applied->set_value(report);
    } catch (const std::exception&) {
      // Only a second call could throw (promise already satisfied); nothing to do.
    }
  });
  if (reportFuture.wait_for(options_.reportTimeout) != std::future_status::ready)
    return reconcile::ReconcileResult::retry(
        fmt::format("the data plane did not apply table {} within {} ms", input.generation,
                    options_.reportTimeout.count()));
  loop::PublishReport report = reportFuture.get();
  std::unordered_map<table::ListenerKey, const loop::ListenerReport*, table::ListenerKeyHash>
      listeners;
  bool bindFailed = false;
  for (const auto& listener : report.listeners) {
    listeners.emplace(listener.key, &listener);
    if (!listener.listening) bindFailed = true;
  }

  size_t programmed = 0;
  api::Time now = input.now;
  std::vector<store::WriteOp> statusWrites;
  for (size_t i = 0; i < bindings.size(); ++i) {
    api::Binding binding = bindings[i].object;
    const BindingPlan& plan = output.bindings[i];
    api::BindingStatus status = binding.status;
    mergeConditions(status.conditions, plan.conditions, binding.metadata.generation, now);
    std::string listenAddress;
    std::string thumbprint;
    bool live = false;
    if (plan.inTable) {
      auto found = listeners.find(plan.listener);
      const loop::ListenerReport* listener = found == listeners.end() ? nullptr : found->second;
      if (listener && listener->listening) {
        live = true;
        listenAddress = fmt::format("{}", fmt::join(listener->boundAddresses, ","));
        if (plan.tls) thumbprint = plan.tls->thumbprint();
        mergeConditions(status.conditions,
                        {{"Programmed", ConditionStatus::kTrue, reason::kProgrammed,
                          fmt::format("served on {}", listenAddress)}},
                        binding.metadata.generation, now);
      } else {
        std::string error = listener ? listener->error : "the data plane did not report it";
        mergeConditions(status.conditions,
                        {{"Programmed", ConditionStatus::kFalse, reason::kPortUnavailable, error}},
                        binding.metadata.generation, now);
      }
    }
    if (live) {
      ++programmed;
      // tableGeneration says since which table the binding is served as it is now; it moves only
      // when what is served for it changes, so an unrelated edit does not rewrite every status.
      bool same = binding.status.listenAddress == listenAddress &&
                  binding.status.servedThumbprint == thumbprint &&
                  binding.status.tableGeneration != 0;
      const api::Condition* previous = api::findCondition(binding.status.conditions, "Programmed");
      same = same && previous && previous->status == ConditionStatus::kTrue &&
             previous->observedGeneration == binding.metadata.generation;
      status.listenAddress = listenAddress;
      status.servedThumbprint = thumbprint;
      if (!same) status.tableGeneration = static_cast<int64_t>(input.generation);
    } else {
      status.listenAddress.clear();
      status.servedThumbprint.clear();
      status.tableGeneration = 0;
    }
    binding.status = std::move(status);
    if (auto op = statusUpdate(api::Object{std::move(binding)}, bindings[i].json))
      statusWrites.push_back(std::move(*op));
  }

  for (size_t i = 0; i < sites.size(); ++i) {
    api::Site site = sites[i].object;
    const SitePlan& plan = output.sites[i];
    site.status.siteId = plan.siteId;
    mergeConditions(site.status.conditions, {plan.ready}, site.metadata.generation, now);
    if (auto op = statusUpdate(api::Object{std::move(site)}, sites[i].json))
      statusWrites.push_back(std::move(*op));
  }

  // Every changed status in one store batch: after the first table of thousands of bindings that
  // is two filesystem syncs rather than two fsyncs per binding.
  size_t statusesWritten = statusWrites.size();
  if (!statusWrites.empty()) {
    auto results = store_.writeBatch(std::move(statusWrites));
    for (const auto& result : results) {
      if (result) continue;
      --statusesWritten;
      log->debug("status_not_written error=\"{}\"", result.message());
    }
  }

  log->info(
      "reconcile key={} generation={} sites={} bindings={} programmed={} listeners={} "
      "contexts_built={} contexts_reused={} statuses_written={}",
      kKey, input.generation, sites.size(), bindings.size(), programmed, report.listeners.size(),
      output.contextsBuilt, output.contextsReused, statusesWritten);
  if (bindFailed)
    return reconcile::ReconcileResult::requeueAfter(
        output.crlFiles.empty() ? options_.bindRetry
                                : std::min(options_.bindRetry, options_.crlCheckInterval));
  if (!output.crlFiles.empty())
    return reconcile::ReconcileResult::requeueAfter(options_.crlCheckInterval);
  return reconcile::ReconcileResult::done();
}

}  // namespace siteplane::compile

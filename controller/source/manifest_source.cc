#include "controller/source/manifest_source.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "common/logging.h"
#include "controller/api/object.h"
#include "controller/api/object_codec.h"
#include "controller/api/time.h"
#include "controller/manifest/manifest_loader.h"
#include "controller/source/sync_plan.h"

namespace siteplane::source {
namespace fs = std::filesystem;
namespace {

constexpr const char* kKinds[] = {"Binding", "Certificate", "Issuer", "Site"};

bool isManifestName(const std::string& name) {
  auto ends = [&](std::string_view suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".yaml") || ends(".yml");
}

}  // namespace

Result<std::unique_ptr<ManifestSource>> ManifestSource::create(store::Store& store,
                                                               ManifestSourceOptions options) {
  std::error_code ec;
  if (!fs::is_directory(options.directory, ec))
    return Result<std::unique_ptr<ManifestSource>>::error(
        fmt::format("manifest directory {}: not a directory{}", options.directory.string(),
                    ec ? " (" + ec.message() + ")" : ""));
  return std::unique_ptr<ManifestSource>(new ManifestSource(store, std::move(options)));
}

ManifestSource::ManifestSource(store::Store& store, ManifestSourceOptions options)
    : store_(store),
      options_(std::move(options)),
      events_(store, {.component = "siteplane-manifest-source"}) {}

ManifestSource::~ManifestSource() { stop(); }

Status ManifestSource::start() {
  SyncReport report = syncNow();
  logger("controller.source")
      ->info("manifests_loaded dir={} files={} invalid={}", options_.directory.string(),
             report.files, report.invalidFiles);

  auto thread = event_loop::EventLoopThread::create("manifests");
  if (!thread) return thread.status().withContext("manifest source");
  uv_loop_t* loop = (*thread)->loop();
  auto debounce = event_loop::UvHandle<uv_timer_t>::create(uv_timer_init, loop, this);
  if (!debounce) return debounce.status().withContext("manifest source");
  auto rescan = event_loop::UvHandle<uv_timer_t>::create(uv_timer_init, loop, this);
  if (!rescan) return rescan.status().withContext("manifest source");
  thread_ = std::move(thread).value();
  debounce_ = std::move(debounce).value();
  rescanTimer_ = std::move(rescan).value();
  watches_ = std::make_unique<event_loop::DirectoryWatches>(
      loop, "controller.source",
      [this](const std::string&, std::string_view, int) { scheduleScan(); });
  auto interval = static_cast<uint64_t>(options_.rescanInterval.count());
  uv_timer_start(rescanTimer_.get(), &ManifestSource::onScanTimer, interval, interval);
  updateWatches();
  if (Status started = thread_->start(); !started) {
    closeLoopHandles();
    thread_.reset();
    return std::move(started).withContext("manifest source");
  }
  return Status::ok();
}

void ManifestSource::rescan() {
  // thread_ is set by start() and reset by stop(), both on the owner's thread, which is also the
  // thread that calls this (serve's signal loop): no race with the reset.
  if (!thread_) return;
  thread_->post([this] {
    logger("controller.source")->info("rescan_requested dir={}", options_.directory.string());
    scan();
  });
}

void ManifestSource::stop() {
  if (!thread_) return;
  thread_->stop([this] { closeLoopHandles(); });
  thread_.reset();
}

void ManifestSource::closeLoopHandles() {
  watches_.reset();
  debounce_.close();
  rescanTimer_.close();
}

// Debounce: every event restarts the timer, so an editor's temp-file-and-rename is one scan; a
// never-ending stream of events still gets a scan every ten debounce periods.
void ManifestSource::scheduleScan() {
  uint64_t now = uv_now(thread_->loop());
  uint64_t delay = static_cast<uint64_t>(options_.debounce.count());
  if (firstPendingMs_ == 0) firstPendingMs_ = now;
  if (now - firstPendingMs_ >= 10 * delay && uv_is_active(debounce_.base())) return;
  uv_timer_start(debounce_.get(), &ManifestSource::onScanTimer, delay, 0);
}

void ManifestSource::onScanTimer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ManifestSource*>(timer->data);
  self->firstPendingMs_ = 0;
  self->scan();
}

void ManifestSource::scan() noexcept {
  try {
    syncNow();
  } catch (const std::exception& error) {
    logger("controller.source")->error("scan_failed error=\"{}\"", error.what());
  }
  updateWatches();
}

// Watches exactly the directories of the last walk; a path whose directory was replaced (a
// ConfigMap flip re-points it) gets a fresh watch.
void ManifestSource::updateWatches() {
  std::map<std::string, event_loop::DirectoryIdentity> wanted;
  {
    std::lock_guard lock(syncMutex_);
    for (const auto& directory : directories_)
      wanted.emplace(directory.path.string(),
                     event_loop::DirectoryIdentity{directory.device, directory.inode});
  }
  watches_->watchExactly(wanted);
}

void ManifestSource::walk(std::vector<std::string>& files,
                          std::vector<WatchedDirectory>& directories,
                          std::map<std::string, std::string>& unusable) const {
  std::set<std::pair<dev_t, ino_t>> visited;
  // Directory symlinks are followed (a ConfigMap's subdirectories are symlinks through ..data);
  // `visited` stops a symlink loop.
  std::function<void(const fs::path&, const std::string&)> visit = [&](const fs::path& dir,
                                                                       const std::string& prefix) {
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) return;
    if (!visited.emplace(info.st_dev, info.st_ino).second) return;
    directories.push_back({dir, info.st_dev, info.st_ino});
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      names.push_back(it->path().filename().string());
    if (ec)
      logger("controller.source")
          ->warn("list_failed directory={} error=\"{}\"", dir.string(), ec.message());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      // Dot names are editor temp files, VCS metadata and the ConfigMap's ..data/..<timestamp>
      // (reached through the top-level symlinks instead, so nothing is read twice).
      if (name.empty() || name[0] == '.') continue;
      fs::path path = dir / name;
      const std::string relative = prefix + name;
      struct stat entry {};
      if (::stat(path.c_str(), &entry) != 0) {
        int error = errno;
        struct stat link {};
        // Removed since the listing: nothing to say. A symlink that leads nowhere (or round in
        // a loop) is a mistake worth an Event, whatever its name: it may have been meant as a
        // directory of manifests.
        if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode) &&
            (error == ELOOP || isManifestName(name)))
          unusable[relative] = error == ELOOP
                                   ? "symlink loop (too many levels of symbolic links)"
                                   : "dangling symlink: " + std::string(std::strerror(error));
        continue;
      }
      if (S_ISDIR(entry.st_mode)) {
        visit(path, relative + "/");
      } else if (isManifestName(name)) {
        if (S_ISREG(entry.st_mode)) {
          files.push_back(relative);
        } else {
          unusable[relative] =
              "not a regular file (" + manifest::fileTypeName(entry.st_mode) + "): not read";
        }
      }
    }
  };
  visit(options_.directory, "");
}

std::string ManifestSource::eventName(const std::string& relative) const {
  return fmt::format("invalid-manifest-{:016x}", std::hash<std::string>{}(relative));
}

void ManifestSource::loadFile(const std::string& relative, FileState& state) {
  manifest::FileLoadResult result = manifest::loadManifestFile(options_.directory / relative);
  state.ok = result.ok();
  if (!state.ok) {
    std::string text;
    for (const auto& error : result.errors) text += error.toString() + "\n";
    state.errorText = std::move(text);
    return;
  }
  state.errorText.clear();
  state.lastGood.clear();
  for (const auto& loaded : result.objects) {
    nlohmann::json object = api::encodeObject(loaded.object);
    object.erase("status");
    object["metadata"]["annotations"][kManifestFileAnnotation] = relative;
    state.lastGood.push_back(std::move(object));
  }
  state.hasLastGood = true;
}

void ManifestSource::reportErrors(const std::string& relative, FileState& state,
                                  const std::string& errorText, const std::string& involvedKind,
                                  const std::string& involvedName) {
  auto log = logger("controller.source");
  size_t start = 0;
  while (start < errorText.size()) {
    size_t end = errorText.find('\n', start);
    if (end == std::string::npos) end = errorText.size();
    log->error("manifest_invalid file={} error=\"{}\"", relative,
               errorText.substr(start, end - start));
    start = end + 1;
  }
  std::string message = errorText;
  while (!message.empty() && message.back() == '\n') message.pop_back();
  events_.recordNamed(
      eventName(relative),
      {"siteplane.io/v1alpha1", involvedKind.empty() ? "ManifestFile" : involvedKind, "default",
       involvedName.empty() ? relative : involvedName, ""},
      events::EventType::kWarning, kInvalidManifestReason, message,
      {{kManifestFileAnnotation, relative}});
  state.reportedText = errorText;
}

void ManifestSource::clearErrors(const std::string& relative, FileState& state) {
  if (state.reportedText.empty()) return;
  logger("controller.source")->info("manifest_valid file={}", relative);
  events_.remove("default", eventName(relative));
  state.reportedText.clear();
}

SyncReport ManifestSource::syncNow() {
  std::lock_guard lock(syncMutex_);
  SyncReport report;
  scanFiles();
  report.files = files_.size();

  std::map<std::string, DeclaringFile> declaring;
  for (const auto& [relative, state] : files_)
    declaring.emplace(relative, DeclaringFile{state.ok, state.hasLastGood, &state.lastGood});
  SyncPlan plan = planSync(declaring, storedObjects(), options_.directory);
  report.invalidFiles = plan.invalidFiles;
  report.unchanged = plan.unchanged;

  // Errors: each change of a file's errors is logged once and kept as an Event.
  for (auto& [relative, state] : files_) {
    std::string text = state.errorText + plan.conflicts[relative];
    if (text == state.reportedText) continue;
    if (text.empty()) {
      clearErrors(relative, state);
    } else {
      reportErrors(relative, state, text, "", "");
    }
  }
  applyWrites(std::move(plan.writes), report);
  if (report.created || report.updated || report.deleted || report.failedWrites)
    logger("controller.source")
        ->info("manifests_scanned files={} invalid={} created={} updated={} deleted={} failed={}",
               report.files, report.invalidFiles, report.created, report.updated, report.deleted,
               report.failedWrites);
  return report;
}

void ManifestSource::scanFiles() {
  std::vector<std::string> found;
  std::vector<WatchedDirectory> directories;
  std::map<std::string, std::string> unusable;
  walk(found, directories, unusable);
  directories_ = std::move(directories);
  std::set<std::string> present(found.begin(), found.end());
  for (const auto& [relative, why] : unusable) present.insert(relative);

  for (auto it = files_.begin(); it != files_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    logger("controller.source")->info("manifest_removed file={}", it->first);
    clearErrors(it->first, it->second);
    it = files_.erase(it);
  }
  for (const auto& relative : found) {
    auto [entry, isNew] = files_.try_emplace(relative);
    FileState& state = entry->second;
    FileStamp signature = FileStamp::of(options_.directory / relative).value_or(FileStamp{});
    if (!isNew && signature == state.signature) continue;
    state.signature = signature;
    loadFile(relative, state);
  }
  // Never opened: an invalid file whose objects (if it declared any before) keep their last good
  // version, and whose Event says what it is.
  for (const auto& [relative, why] : unusable) {
    FileState& state = files_[relative];
    state.signature = FileStamp{};  // read again once it is a regular file
    state.ok = false;
    state.errorText = (options_.directory / relative).string() + ": " + why + "\n";
  }
}

std::map<ObjectKey, store::ObjectPtr> ManifestSource::storedObjects() const {
  std::map<ObjectKey, store::ObjectPtr> stored;
  for (const auto& kind : kKinds) {
    for (auto& object : store_.list({kind, std::nullopt, {}}).items)
      stored.emplace(declaredKey(*object), object);
  }
  return stored;
}

// Creates, updates and prunes as one store batch: a first start from a directory of thousands of
// objects then costs two filesystem syncs instead of two fsyncs per object, and every write is
// still durable before the scan returns (each operation succeeds or fails on its own).
void ManifestSource::applyWrites(std::vector<PlannedWrite> writes, SyncReport& report) {
  if (writes.empty()) return;
  std::vector<store::WriteOp> ops;
  ops.reserve(writes.size());
  for (auto& write : writes) ops.push_back(std::move(write.op));
  auto results = store_.writeBatch(std::move(ops));
  auto log = logger("controller.source");
  for (size_t i = 0; i < results.size(); ++i) {
    const PlannedWrite& write = writes[i];
    const auto& result = results[i];
    switch (write.action) {
      case PlannedWrite::Action::kCreate:
        if (result) {
          ++report.created;
          log->info("object_created key={} file={}", write.key.toString(), write.detail);
        } else {
          ++report.failedWrites;
          log->error("object_not_created key={} error=\"{}\"", write.key.toString(),
                     result.message());
        }
        break;
      case PlannedWrite::Action::kUpdate:
        if (result) {
          ++report.updated;
          log->info("object_updated key={} generation={}", write.key.toString(),
                    (**result)["metadata"].value("generation", int64_t{0}));
        } else {
          // A conflict means another writer got there first; the next scan compares again.
          ++report.failedWrites;
          log->warn("object_not_updated key={} error=\"{}\"", write.key.toString(),
                    result.message());
        }
        break;
      case PlannedWrite::Action::kPrune:
        if (result) {
          ++report.deleted;
          log->info("object_pruned key={} file={}", write.key.toString(), write.detail);
        } else if (result.code() != ErrorCode::kNotFound) {
          ++report.failedWrites;
          log->warn("object_not_pruned key={} error=\"{}\"", write.key.toString(),
                    result.message());
        }
        break;
    }
  }
}

}  // namespace siteplane::source

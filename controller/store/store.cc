#include "controller/store/store.h"

#include <algorithm>
#include <ctime>
#include <random>

#include "common/logging.h"

namespace siteplane::store {
namespace {

using nlohmann::json;

std::shared_ptr<spdlog::logger> log() { return logger("controller.store"); }

std::string rfc3339(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string describe(const ObjectKey& key) {
  return key.kind + " \"" + key.ns + "/" + key.name + "\"";
}

const std::string* stringField(const json& object, const char* name) {
  auto found = object.find(name);
  if (found == object.end() || !found->is_string()) return nullptr;
  return found->get_ptr<const std::string*>();
}

// Checks a string map (labels, annotations) and drops it when null or empty, so that `{}`,
// `null` and an absent map are one state and updating between them is a no-op.
void checkStringMap(json& metadata, const char* field, bool valuesAreLabelValues,
                    std::vector<std::string>& errors) {
  auto found = metadata.find(field);
  if (found == metadata.end()) return;
  if (found->is_null() || (found->is_object() && found->empty())) {
    metadata.erase(found);
    return;
  }
  std::string path = std::string("metadata.") + field;
  if (!found->is_object()) {
    errors.push_back(path + ": must be a map of strings");
    return;
  }
  for (const auto& [key, value] : found->items()) {
    if (!isValidLabelKey(key)) {
      errors.push_back(path + "." + key + ": not a valid key (name or prefix/name)");
    }
    if (!value.is_string()) {
      errors.push_back(path + "." + key + ": must be a string");
    } else if (valuesAreLabelValues && !isValidLabelValue(value.get_ref<const std::string&>())) {
      errors.push_back(path + "." + key + ": \"" + value.get<std::string>() +
                       "\" is not a valid label value (at most 63 characters, alphanumeric at "
                       "both ends, '-', '_', '.' inside)");
    }
  }
}

Status invalidObject(const json& object, const std::vector<std::string>& errors) {
  std::string what = "object";
  if (object.is_object()) {
    const std::string* kind = stringField(object, "kind");
    auto metadata = object.find("metadata");
    const std::string* name = metadata != object.end() && metadata->is_object()
                                  ? stringField(*metadata, "name")
                                  : nullptr;
    what = (kind ? *kind : std::string("object")) + (name ? " \"" + *name + "\"" : "");
  }
  std::string message = what + " is invalid: ";
  for (size_t i = 0; i < errors.size(); ++i) message += (i ? "; " : "") + errors[i];
  return Status::error(ErrorCode::kInvalid, message);
}

// Validates what the store itself relies on (the key, label and annotation maps) and fills in
// the default namespace. Everything under spec is the business of controller/api validation.
Result<ObjectKey> checkObject(json& object, bool checkMaps) {
  std::vector<std::string> errors;
  if (!object.is_object()) return invalidObject(object, {"must be a JSON object"});
  const std::string* apiVersion = stringField(object, "apiVersion");
  if (!apiVersion || apiVersion->empty()) errors.push_back("apiVersion: required");
  const std::string* kind = stringField(object, "kind");
  if (!kind || kind->empty()) {
    errors.push_back("kind: required");
  } else if (!isValidKind(*kind)) {
    errors.push_back("kind: \"" + *kind + "\" is not a kind (PascalCase letters and digits)");
  }
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    errors.push_back("metadata: required");
    return invalidObject(object, errors);
  }
  const std::string* name = stringField(*metadata, "name");
  if (!name || name->empty()) {
    errors.push_back("metadata.name: required");
  } else if (!isDns1123Label(*name)) {
    errors.push_back("metadata.name: \"" + *name +
                     "\" is not a DNS-1123 label (lower-case letters, digits and '-', "
                     "alphanumeric at both ends, at most 63 characters)");
  }
  auto ns = metadata->find("namespace");
  if (ns == metadata->end() || ns->is_null() ||
      (ns->is_string() && ns->get_ref<const std::string&>().empty())) {
    (*metadata)["namespace"] = std::string(kDefaultNamespace);
  } else if (!ns->is_string() || !isDns1123Label(ns->get_ref<const std::string&>())) {
    errors.push_back("metadata.namespace: " + ns->dump() + " is not a DNS-1123 label");
  }
  if (checkMaps) {
    checkStringMap(*metadata, "labels", true, errors);
    checkStringMap(*metadata, "annotations", false, errors);
  }
  if (!errors.empty()) return invalidObject(object, errors);
  return ObjectKey{*kind, (*metadata)["namespace"].get<std::string>(), *name};
}

// The resourceVersion and uid preconditions of an update or delete: a non-empty value that is
// not the stored one means the caller worked from a stale copy.
std::optional<Status> checkPreconditions(const ObjectKey& key, const json& request,
                                         const json& current) {
  const json& metadata = request["metadata"];
  const json& stored = current["metadata"];
  const std::string* version = stringField(metadata, "resourceVersion");
  if (version && !version->empty() && *version != stored["resourceVersion"]) {
    return Status::error(ErrorCode::kConflict,
                         "Operation cannot be fulfilled on " + describe(key) +
                             ": the object has been modified (resourceVersion " + *version +
                             " is not " + stored["resourceVersion"].get<std::string>() +
                             "); please apply your changes to the latest version and try again");
  }
  const std::string* uid = stringField(metadata, "uid");
  if (uid && !uid->empty() && *uid != stored["uid"]) {
    return Status::error(ErrorCode::kConflict,
                         "Precondition failed for " + describe(key) + ": uid " + *uid +
                             " is not the stored object's uid " + stored["uid"].get<std::string>());
  }
  return std::nullopt;
}

// True when the two objects differ outside metadata and status (apiVersion and kind included,
// as they name the same resource): a change there is a spec change and bumps generation.
bool specDiffers(const json& a, const json& b) {
  auto isSpec = [](const std::string& field) {
    return field != "metadata" && field != "status" && field != "apiVersion" && field != "kind";
  };
  for (const auto& [field, value] : a.items()) {
    if (!isSpec(field)) continue;
    auto other = b.find(field);
    if (other == b.end() || *other != value) return true;
  }
  for (const auto& [field, value] : b.items()) {
    if (isSpec(field) && !a.contains(field)) return true;
  }
  return false;
}

}  // namespace

bool ListOptions::matches(const ObjectKey& key, const json& object) const {
  if (!kind.empty() && key.kind != kind) return false;
  if (ns && key.ns != *ns) return false;
  return selector.matchesObject(object);
}

Store::Store(ObjectFiles files, const Clock& clock, StoreOptions options)
    : clock_(clock), options_(options), files_(std::move(files)) {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device(),
                     device(), device(), device(), device()};
  random_.seed(seed);
}

Result<std::unique_ptr<Store>> Store::create(const std::filesystem::path& stateDir,
                                             const Clock& clock, StoreOptions options) {
  auto files = ObjectFiles::create(stateDir);
  if (!files) return files.status().withContext("opening the store");
  auto loaded = files->load();
  if (!loaded) return loaded.status().withContext("loading the store");

  std::unique_ptr<Store> store(new Store(std::move(files).value(), clock, options));
  for (auto& object : loaded->objects) {
    ObjectKey key{object["kind"].get<std::string>(),
                  object["metadata"]["namespace"].get<std::string>(),
                  object["metadata"]["name"].get<std::string>()};
    store->objects_.emplace(std::move(key), std::make_shared<const json>(std::move(object)));
  }
  store->resourceVersion_ = loaded->resourceVersion;
  store->nextVersion_ = loaded->resourceVersion + 1;
  // Events from before the restart are gone: a watch from an older version must list again.
  store->historyStart_ = loaded->resourceVersion;
  log()->info("store_loaded dir={} objects={} resourceVersion={} skipped={}",
              store->directory().string(), store->objects_.size(), loaded->resourceVersion,
              loaded->skipped);
  return store;
}

std::string Store::newUid() {
  // UUID version 4 (RFC 4122 section 4.4): 122 random bits, version and variant fixed.
  uint64_t high = random_();
  uint64_t low = random_();
  high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                static_cast<unsigned>(high & 0xFFFF), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFULL));
  return buffer;
}

ObjectPtr Store::find(const ObjectKey& key) const {
  std::lock_guard lock(mutex_);
  auto found = objects_.find(key);
  return found == objects_.end() ? nullptr : found->second;
}

Result<ObjectKey> Store::keyOf(WriteOp& op) {
  if (op.type == WriteOp::Type::kRemove) return op.key;
  return checkObject(op.object, /*checkMaps=*/op.type != WriteOp::Type::kUpdateStatus);
}

Result<std::optional<Store::Prepared>> Store::serialize(const ObjectKey& key, WatchEvent::Type type,
                                                        json object) {
  // Serialized here, once, rather than when the file is written: JSON text must be UTF-8, and a
  // string that is not is the caller's error (Invalid), found before anything is committed.
  std::string text;
  try {
    text = object.dump();
  } catch (const json::exception&) {
    return invalidObject(object, {"contains a string that is not valid UTF-8"});
  }
  text += '\n';
  return std::optional<Prepared>(
      Prepared{key, type, std::make_shared<const json>(std::move(object)), std::move(text)});
}

Result<std::optional<Store::Prepared>> Store::prepare(WriteOp& op, const ObjectKey& key,
                                                      const ObjectPtr& current, uint64_t version) {
  using Type = WriteOp::Type;
  json& object = op.object;
  Type type = op.type;
  if (type == Type::kUpsert) {
    const std::string* requested = stringField(object["metadata"], "resourceVersion");
    // A resourceVersion says the caller expects the object to exist: then it is an update.
    type = current || (requested && !requested->empty()) ? Type::kUpdate : Type::kCreate;
  }
  if (type != Type::kCreate && type != Type::kMirror && !current)
    return Status::error(ErrorCode::kNotFound, describe(key) + " not found");

  switch (type) {
    case Type::kCreate: {
      json& metadata = object["metadata"];
      const std::string* requested = stringField(metadata, "resourceVersion");
      if (requested && !requested->empty()) {
        return invalidObject(object, {"metadata.resourceVersion: must not be set on create"});
      }
      if (current)
        return Status::error(ErrorCode::kAlreadyExists, describe(key) + " already exists");
      metadata["uid"] = newUid();
      metadata["creationTimestamp"] = rfc3339(clock_.wallNow());
      metadata["generation"] = 1;
      metadata["resourceVersion"] = formatResourceVersion(version);
      object.erase("status");
      return serialize(key, WatchEvent::Type::kAdded, std::move(object));
    }
    case Type::kUpsert:
    case Type::kUpdate: {
      if (auto failed = checkPreconditions(key, object, *current)) return *failed;
      json& metadata = object["metadata"];
      const json& stored = (*current)["metadata"];
      for (const char* field : {"uid", "creationTimestamp", "generation", "resourceVersion"}) {
        metadata[field] = stored[field];
      }
      if (current->contains("status")) {
        object["status"] = (*current)["status"];
      } else {
        object.erase("status");
      }
      if (object == *current) return std::optional<Prepared>();
      if (specDiffers(object, *current)) {
        metadata["generation"] = stored["generation"].get<int64_t>() + 1;
      }
      metadata["resourceVersion"] = formatResourceVersion(version);
      return serialize(key, WatchEvent::Type::kModified, std::move(object));
    }
    case Type::kUpdateStatus: {
      auto status = object.find("status");
      bool hasStatus = status != object.end() && !status->is_null();
      if (hasStatus && !status->is_object()) {
        return invalidObject(object, {"status: must be an object"});
      }
      if (auto failed = checkPreconditions(key, object, *current)) return *failed;
      json next = *current;
      if (hasStatus) {
        next["status"] = std::move(*status);
      } else {
        next.erase("status");
      }
      if (next == *current) return std::optional<Prepared>();
      next["metadata"]["resourceVersion"] = formatResourceVersion(version);
      return serialize(key, WatchEvent::Type::kModified, std::move(next));
    }
    case Type::kMirror: {
      json& metadata = object["metadata"];
      if (current) {
        metadata["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
        if (object == *current) return std::optional<Prepared>();
      }
      metadata["resourceVersion"] = formatResourceVersion(version);
      return serialize(key, current ? WatchEvent::Type::kModified : WatchEvent::Type::kAdded,
                       std::move(object));
    }
    case Type::kRemove: {
      json request = {{"metadata", json::object()}};
      if (op.resourceVersion) request["metadata"]["resourceVersion"] = *op.resourceVersion;
      if (auto failed = checkPreconditions(key, request, *current)) return *failed;
      json last = *current;
      last["metadata"]["resourceVersion"] = formatResourceVersion(version);
      return std::optional<Prepared>(Prepared{key, WatchEvent::Type::kDeleted,
                                              std::make_shared<const json>(std::move(last)), ""});
    }
  }
  return Status::error(ErrorCode::kInternal, "unknown write operation");
}

std::vector<Result<ObjectPtr>> Store::writeBatch(std::vector<WriteOp> ops) {
  PendingWrite own;
  own.ops = std::move(ops);
  // Writes that queue while a commit is in progress are committed together by the next one: each
  // commit costs two syncs however many writes it holds, so N reconcilers writing status at once
  // pay for one commit, not N, and every write is still durable before its call returns.
  commits_.submit(own, [this](const std::vector<PendingWrite*>& group) { commitGroup(group); });
  dispatcher_->deliver();
  return std::move(own.results);
}

void Store::commitGroup(const std::vector<PendingWrite*>& group) noexcept {
  size_t total = 0;
  for (const PendingWrite* write : group) total += write->ops.size();
  try {
    std::lock_guard write(writeMutex_);
    // Later operations see the earlier ones, across the writers of the group as within one
    // batch: `overlay` holds what they wrote (null for a deletion) until the group is installed.
    std::map<ObjectKey, ObjectPtr> overlay;
    std::vector<Prepared> writes;
    // Where each write's result goes: (writer, index in its ops).
    std::vector<std::pair<PendingWrite*, size_t>> writeOps;
    uint64_t version = nextVersion_;
    for (PendingWrite* pending : group) {
      pending->results.clear();
      pending->results.reserve(pending->ops.size());
      for (size_t i = 0; i < pending->ops.size(); ++i) {
        WriteOp& op = pending->ops[i];
        auto key = keyOf(op);
        if (!key) {
          pending->results.emplace_back(key.status());
          continue;
        }
        auto overlaid = overlay.find(*key);
        ObjectPtr current = overlaid != overlay.end() ? overlaid->second : find(*key);
        auto prepared = prepare(op, *key, current, version);
        if (!prepared) {
          pending->results.emplace_back(prepared.status());
        } else if (!prepared->has_value()) {
          pending->results.emplace_back(current);  // changes nothing: not written, no event
        } else {
          Prepared& change = **prepared;
          overlay[*key] = change.type == WatchEvent::Type::kDeleted ? nullptr : change.object;
          pending->results.emplace_back(change.object);
          writes.push_back(std::move(change));
          writeOps.emplace_back(pending, i);
          ++version;
        }
      }
    }
    if (writes.empty()) return;
    // Spent even if persisting fails: a file may have reached the disk, so these numbers must
    // never be handed to a different change.
    uint64_t first = nextVersion_;
    nextVersion_ = version;
    std::vector<ObjectFiles::Change> changes;
    changes.reserve(writes.size());
    for (size_t k = 0; k < writes.size(); ++k) {
      bool deleted = writes[k].type == WatchEvent::Type::kDeleted;
      changes.push_back({writes[k].key, deleted, &writes[k].text, first + k});
    }
    size_t applied = 0;
    Status persisted = files_.commit(changes, applied);
    // What reached the disk is installed even when the final sync failed, so that memory
    // never disagrees with what a restart would load.
    install(writes, applied, first);
    if (!persisted) {
      log()->error("object_write_failed objects={} applied={} error=\"{}\"", writes.size(), applied,
                   persisted.message());
      for (size_t k = 0; k < writes.size(); ++k) {
        auto [pending, index] = writeOps[k];
        pending->results[index] =
            Status::error(ErrorCode::kInternal,
                          "storing " + describe(writes[k].key) + ": " + persisted.message());
      }
    }
  } catch (const std::exception& error) {
    // Out of memory or a serialization bug: no caller may wait for a result that never comes.
    log()->error("object_write_failed objects={} error=\"{}\"", total, error.what());
    for (PendingWrite* pending : group) {
      pending->results.clear();
      for (size_t i = 0; i < pending->ops.size(); ++i)
        pending->results.push_back(
            Status::error(ErrorCode::kInternal, std::string("storing: ") + error.what()));
    }
  }
}

void Store::install(const std::vector<Prepared>& writes, size_t count, uint64_t firstVersion) {
  std::lock_guard lock(mutex_);
  for (size_t k = 0; k < count; ++k) {
    const Prepared& change = writes[k];
    uint64_t version = firstVersion + k;
    if (change.type == WatchEvent::Type::kDeleted) {
      objects_.erase(change.key);
    } else {
      objects_[change.key] = change.object;
    }
    resourceVersion_ = version;
    WatchEvent event{change.type, change.key, change.object, version};
    history_.push_back(event);
    while (history_.size() > options_.historyLimit) {
      historyStart_ = history_.front().resourceVersion;
      history_.pop_front();
    }
    dispatcher_->enqueue(std::move(event));
    log()->debug("object_written event={} key={} resourceVersion={}", toString(change.type),
                 change.key.toString(), version);
  }
}

Result<ObjectPtr> Store::writeOne(WriteOp op) {
  std::vector<WriteOp> ops;
  ops.push_back(std::move(op));
  return std::move(writeBatch(std::move(ops)).front());
}

Result<ObjectPtr> Store::createObject(json object) {
  return writeOne(WriteOp::create(std::move(object)));
}
Result<ObjectPtr> Store::updateObject(json object) {
  return writeOne(WriteOp::update(std::move(object)));
}
Result<ObjectPtr> Store::upsertObject(json object) {
  return writeOne(WriteOp::upsert(std::move(object)));
}
Result<ObjectPtr> Store::updateStatus(json object) {
  return writeOne(WriteOp::updateStatus(std::move(object)));
}
Result<ObjectPtr> Store::removeObject(const ObjectKey& key,
                                      std::optional<std::string> resourceVersion) {
  return writeOne(WriteOp::remove(key, std::move(resourceVersion)));
}

Result<ObjectPtr> Store::get(const ObjectKey& key) const {
  ObjectPtr object = find(key);
  if (!object) return Status::error(ErrorCode::kNotFound, describe(key) + " not found");
  return object;
}

ObjectList Store::list(const ListOptions& options) const {
  ObjectList list;
  std::lock_guard lock(mutex_);
  list.resourceVersion = resourceVersion_;
  auto it = options.kind.empty()
                ? objects_.begin()
                : objects_.lower_bound(ObjectKey{options.kind, options.ns.value_or(""), ""});
  for (; it != objects_.end(); ++it) {
    const ObjectKey& key = it->first;
    if (!options.kind.empty() && key.kind != options.kind) break;
    if (options.ns && key.ns != *options.ns) {
      // Within one kind the namespace is the next sort key: past it, nothing more can match.
      if (!options.kind.empty()) break;
      continue;
    }
    if (options.selector.matchesObject(*it->second)) list.items.push_back(it->second);
  }
  return list;
}

uint64_t Store::resourceVersion() const {
  std::lock_guard lock(mutex_);
  return resourceVersion_;
}

Result<std::vector<WatchEvent>> Store::historySinceLocked(uint64_t resourceVersion) const {
  if (resourceVersion > resourceVersion_) {
    return Status::error(ErrorCode::kInvalid, "resourceVersion " +
                                                  formatResourceVersion(resourceVersion) +
                                                  " is newer than the store's " +
                                                  formatResourceVersion(resourceVersion_));
  }
  if (resourceVersion < historyStart_) {
    return Status::error(ErrorCode::kExpired,
                         "too old resource version: " + formatResourceVersion(resourceVersion) +
                             " (" + formatResourceVersion(historyStart_) + ")");
  }
  auto first = std::partition_point(history_.begin(), history_.end(), [&](const WatchEvent& e) {
    return e.resourceVersion <= resourceVersion;
  });
  return std::vector<WatchEvent>(first, history_.end());
}

Result<std::vector<WatchEvent>> Store::eventsSince(uint64_t resourceVersion) const {
  std::lock_guard lock(mutex_);
  return historySinceLocked(resourceVersion);
}

Subscription Store::subscribe(WatchCallback callback) {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = dispatcher_->addSubscriber(std::move(callback), {}, resourceVersion_);
  }
  return Subscription(dispatcher_, id);
}

Result<Subscription> Store::watch(uint64_t resourceVersion, WatchCallback callback) {
  uint64_t id;
  {
    std::lock_guard lock(mutex_);
    auto backlog = historySinceLocked(resourceVersion);
    if (!backlog) return backlog.status();
    id = dispatcher_->addSubscriber(std::move(callback), std::move(backlog).value(),
                                    resourceVersion_);
  }
  dispatcher_->deliver();
  return Subscription(dispatcher_, id);
}

}  // namespace siteplane::store

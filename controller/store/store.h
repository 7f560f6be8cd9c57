#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/group_commit.h"
#include "common/object_key.h"
#include "common/status.h"
#include "controller/store/event_dispatcher.h"
#include "controller/store/label_selector.h"
#include "controller/store/object_files.h"
#include "controller/store/resource_version.h"
#include "controller/store/watch_event.h"

namespace siteplane::store {

struct StoreOptions {
  // How many events eventsSince()/watch() can replay; an older resourceVersion gets Expired
  // (410 Gone), after which a client lists again. Events share the stored objects, so each costs
  // little more than a pointer.
  size_t historyLimit = 10000;
};

struct ListOptions {
  std::string kind;               // empty: every kind
  std::optional<std::string> ns;  // nullopt: every namespace
  LabelSelector selector;         // empty: every object

  // Whether an object (e.g. one from a WatchEvent) is one this list would return, so that a watch
  // filters events exactly as the list it resumes from.
  bool matches(const ObjectKey& key, const nlohmann::json& object) const;
};

// One write of a batch (Store::writeBatch); the factories mirror Store's single-object methods.
struct WriteOp {
  enum class Type { kCreate, kUpdate, kUpsert, kUpdateStatus, kMirror, kRemove };

  Type type = Type::kCreate;
  nlohmann::json object;                       // every type but kRemove
  ObjectKey key;                               // kRemove
  std::optional<std::string> resourceVersion;  // kRemove: the precondition, if any

  static WriteOp create(nlohmann::json object) {
    return {Type::kCreate, std::move(object), {}, {}};
  }
  static WriteOp update(nlohmann::json object) {
    return {Type::kUpdate, std::move(object), {}, {}};
  }
  static WriteOp upsert(nlohmann::json object) {
    return {Type::kUpsert, std::move(object), {}, {}};
  }
  static WriteOp updateStatus(nlohmann::json object) {
    return {Type::kUpdateStatus, std::move(object), {}, {}};
  }
  // The object as another server stores it (Kubernetes mode: the cluster is the source of truth):
  // created or replaced whole, its uid, creationTimestamp, generation and status kept as given;
  // only resourceVersion is this store's. A mirror that changes nothing is not written.
  static WriteOp mirror(nlohmann::json object) {
    return {Type::kMirror, std::move(object), {}, {}};
  }
  static WriteOp remove(ObjectKey key, std::optional<std::string> resourceVersion = std::nullopt) {
    return {Type::kRemove, nullptr, std::move(key), std::move(resourceVersion)};
  }
};

struct ObjectList {
  std::vector<ObjectPtr> items;  // ordered by kind, namespace, name
  uint64_t resourceVersion = 0;  // the store's resourceVersion the list is a snapshot of
};

// The versioned object store: every Site, Binding, Certificate and Issuer (and any other kind),
// stored unstructured as the Kubernetes API server stores them — apiVersion, kind, metadata,
// spec, status — and persisted in <state>/objects (see ObjectFiles for the on-disk format).
//
// Server-managed metadata:
//   uid                UUID v4, set on create, never changes
//   creationTimestamp  RFC 3339 UTC from the injected clock, set on create
//   generation         1 on create; +1 on every update that changes anything outside metadata
//                      and status (the spec); labels, annotations and status leave it alone
//   resourceVersion    one counter across the store, bumped by every change and rendered as a
//                      decimal string; persisted, so it never goes backwards or repeats across
//                      restarts
//
// Writes are acknowledged (the call returns success) only after they are durable on disk, and
// watchers see an event only for an acknowledged write.
//
// Threading contract:
//   - Every method is safe to call from any thread. Writes are serialized (one at a time, in
//     resourceVersion order); reads take a short lock and never wait for a write's fsync.
//   - Watch callbacks run on a thread that made a write (or subscribed), after the store's locks
//     are released: in resourceVersion order, one at a time across all subscribers, never
//     reentrantly. A callback may call the store, writes included; the event of such a write is
//     delivered after the callback returns. Callbacks should be quick (enqueue a key, signal a
//     loop): a writer may wait for another thread's callbacks to finish.
//   - A callback must not block on a thread that is cancelling a subscription, and Subscriptions
//     should be cancelled before the Store is destroyed (cancelling after is harmless).
class Store {
 public:
  // Opens (creating if needed) <stateDir>/objects and loads every object before returning, so
  // nothing is served from a partial state. Corrupt or partial files are logged with their path
  // and skipped. Fails only when the directory cannot be created or read, or when another store
  // (in this or another process) has it open: the store locks it for its lifetime.
  static Result<std::unique_ptr<Store>> create(const std::filesystem::path& stateDir,
                                               const Clock& clock = Clock::real(),
                                               StoreOptions options = {});

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Stores a new object. The input needs apiVersion, kind and metadata.name; metadata.namespace
  // defaults to "default"; metadata.resourceVersion must be empty. Server-managed metadata is
  // assigned and status is dropped (status is written with updateStatus). Returns the stored
  // object. Invalid, AlreadyExists, Internal.
  Result<ObjectPtr> createObject(nlohmann::json object);

  // Replaces an object's spec, labels, annotations and other fields, keeping its status and
  // server-managed metadata. A non-empty metadata.resourceVersion (or metadata.uid) that is not
  // the current one is a Conflict. An update that changes nothing is not written, keeps the
  // resourceVersion and emits no event. Returns the stored object. NotFound, Conflict, Invalid,
  // Internal.
  Result<ObjectPtr> updateObject(nlohmann::json object);

  // createObject when no object has the key, updateObject otherwise: what applying a manifest
  // does. An input with a resourceVersion is always an update (NotFound when absent).
  Result<ObjectPtr> upsertObject(nlohmann::json object);

  // Replaces only the status (the Kubernetes status subresource): everything else in the input
  // is ignored except the key and the resourceVersion/uid preconditions. Same no-op rule.
  Result<ObjectPtr> updateStatus(nlohmann::json object);

  // Deletes an object; when `resourceVersion` is given and not current, Conflict. Returns the
  // object's last state, carrying the deletion's resourceVersion.
  Result<ObjectPtr> removeObject(const ObjectKey& key,
                                 std::optional<std::string> resourceVersion = std::nullopt);

  // Performs `ops` in order as one durable write: two filesystem syncs for the whole batch
  // instead of two fsyncs per object, which is what makes loading thousands of objects fast.
  // Each operation succeeds or fails on its own (results[i] is what the single-object method
  // would have returned) and later operations see earlier ones, so a batch may create an object
  // and set its status. Events follow in order once the batch is durable. If the state
  // directory cannot be written, every write of the batch returns Internal; after a crash in
  // the middle of a batch a prefix of it may be applied.
  //
  // Group commit: every write (the single-object methods are batches of one) queues, and writes
  // that queue while a commit is in progress are committed together by the next one, in queue
  // order, as if they were one batch. Concurrent writers (reconcilers writing status, API
  // requests) thus share the syncs instead of waiting for each other's; each call still returns
  // only once its own writes are durable, and one failing commit fails the writes it held.
  std::vector<Result<ObjectPtr>> writeBatch(std::vector<WriteOp> ops);

  Result<ObjectPtr> get(const ObjectKey& key) const;
  ObjectList list(const ListOptions& options) const;
  // The resourceVersion of the latest change (0 for a store that has never been written).
  uint64_t resourceVersion() const;

  // Calls `callback` for every change after this call.
  Subscription subscribe(WatchCallback callback);
  // Calls `callback` for every change after `resourceVersion` (replayed from history), then for
  // every later change. Expired when history no longer reaches back that far; Invalid when
  // `resourceVersion` is newer than the store's.
  Result<Subscription> watch(uint64_t resourceVersion, WatchCallback callback);
  // The events after `resourceVersion`, oldest first. Expired / Invalid as for watch().
  Result<std::vector<WatchEvent>> eventsSince(uint64_t resourceVersion) const;

  const std::filesystem::path& directory() const { return files_.directory(); }

 private:
  Store(ObjectFiles files, const Clock& clock, StoreOptions options);

  // A write worked out by prepare(), not yet persisted.
  struct Prepared {
    ObjectKey key;
    WatchEvent::Type type = WatchEvent::Type::kAdded;
    ObjectPtr object;  // the new state; for kDeleted the last state
    std::string text;  // the file content (not for kDeleted)
  };

  // One caller's writeBatch, queued for the group commit.
  struct PendingWrite {
    std::vector<WriteOp> ops;
    std::vector<Result<ObjectPtr>> results;  // one per op once committed
    bool committed = false;                  // GroupCommit's
  };

  Result<ObjectPtr> writeOne(WriteOp op);
  // Prepares, persists (one ObjectFiles::commit) and installs every write of `group`, in order,
  // filling each writer's results. Takes writeMutex_.
  void commitGroup(const std::vector<PendingWrite*>& group) noexcept;
  // Validates the operation's object (filling in the default namespace) and returns its key.
  static Result<ObjectKey> keyOf(WriteOp& op);
  // A Prepared write of `object`, or Invalid when it cannot be serialized.
  static Result<std::optional<Prepared>> serialize(const ObjectKey& key, WatchEvent::Type type,
                                                   nlohmann::json object);
  // What `op` does to `current` (null when absent): an error, nothing (nullopt: a no-op), or a
  // write that gets resourceVersion `version`. Precondition: writeMutex_ held.
  Result<std::optional<Prepared>> prepare(WriteOp& op, const ObjectKey& key,
                                          const ObjectPtr& current, uint64_t version);
  // Installs the first `count` writes (versions firstVersion, firstVersion+1, ...) in memory,
  // records them in history and queues their events. Precondition: writeMutex_ held.
  void install(const std::vector<Prepared>& writes, size_t count, uint64_t firstVersion);
  // The current object under `key`, or null. Takes mutex_.
  ObjectPtr find(const ObjectKey& key) const;
  // Precondition: mutex_ held.
  Result<std::vector<WatchEvent>> historySinceLocked(uint64_t resourceVersion) const;
  std::string newUid();

  const Clock& clock_;  // creationTimestamp: its wallNow(); tests inject a fake one
  const StoreOptions options_;

  GroupCommit<PendingWrite> commits_;

  // Serializes writers for the whole write, fsync included, so resourceVersions are assigned,
  // persisted and published in one order. Readers never take it.
  std::mutex writeMutex_;
  ObjectFiles files_;         // guarded by writeMutex_
  uint64_t nextVersion_ = 1;  // guarded by writeMutex_; never reused, even by a failed write
  std::mt19937_64 random_;    // guarded by writeMutex_; uids

  // Guards everything below; held only briefly (never across I/O or callbacks).
  mutable std::mutex mutex_;
  std::map<ObjectKey, ObjectPtr> objects_;
  uint64_t resourceVersion_ = 0;
  std::deque<WatchEvent> history_;
  // Every event with a resourceVersion above this is in history_.
  uint64_t historyStart_ = 0;

  std::shared_ptr<EventDispatcher> dispatcher_ = std::make_shared<EventDispatcher>();
};

}  // namespace siteplane::store

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

#include "controller/events/event_store.h"
#include "controller/store/store.h"

namespace siteplane::events {

// The object an Event is about (its involvedObject).
struct InvolvedObject {
  std::string apiVersion = "siteplane.io/v1alpha1";
  std::string kind;
  std::string ns = "default";
  std::string name;
  std::string uid;  // may be empty (e.g. a manifest file, which is no stored object)
};

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  // source.component of every Event ("siteplane-certificate-controller").
  std::string component;
  // Events kept per involved object; the least recently seen beyond this are deleted, so a
  // flapping object cannot fill the store.
  size_t maxEventsPerObject = 20;
  // firstTimestamp / lastTimestamp come from its wallNow(); tests inject a fake one. Must
  // outlive the recorder.
  const Clock* clock = &Clock::real();
};

// Writes core/v1 Events into the store, where `describe` and `kubectl describe` find them by
// involvedObject. Recording is best effort: it never fails the caller (an Event that cannot be
// written is logged and dropped), because what an Event reports has already happened and is in
// the object's status. It is a synchronous store write, so call it once per transition, never on
// every resync.
//
// Thread-safe, and recording costs the same however many Events exist: writers of different
// Events do not wait for each other (the store commits them together), and the Events of each
// involved object are indexed in memory — filled from one list of a namespace the first time it
// is written to, then kept by this recorder's own writes — so pruning lists nothing. Events that
// others write for the same object after that list are not counted towards its limit.
class EventRecorder {
 public:
  // `store` must outlive the recorder.
  EventRecorder(store::Store& store, EventRecorderOptions options);
  EventRecorder(EventStore& store, EventRecorderOptions options);
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // One occurrence. A repeat of the same object, type, reason and message aggregates into the
  // Event already written for it (count + 1, lastTimestamp moves), as Kubernetes' event
  // correlator does; anything else is a new Event named "<object>-<hex>".
  void record(const InvolvedObject& object, EventType type, std::string_view reason,
              std::string_view message);

  // An Event that tracks a state rather than an occurrence (a manifest file that is broken): it
  // has the fixed name `eventName` (a DNS-1123 label), every report rewrites its reason and
  // message and counts one more, and remove() takes it away when the state ends.
  void recordNamed(const std::string& eventName, const InvolvedObject& object, EventType type,
                   std::string_view reason, std::string_view message,
                   const std::map<std::string, std::string>& annotations = {});
  // Deletes the Event recordNamed() wrote under `eventName`; absence is not an error.
  void remove(const std::string& ns, const std::string& eventName);

  // The name record() gives the Event for this object, type, reason and message: the object's
  // name (cut to fit) and a stable hash, since the store takes DNS-1123 labels only.
  static std::string correlatedName(const InvolvedObject& object, EventType type,
                                    std::string_view reason, std::string_view message);

 private:
  using ObjectRef = std::tuple<std::string, std::string, std::string>;  // namespace, kind, name
  struct Written {
    std::map<std::string, uint64_t> versionOf;             // event name -> resourceVersion
    std::set<std::pair<uint64_t, std::string>> byVersion;  // (resourceVersion, event name)
  };

  void write(const std::string& eventName, const InvolvedObject& object, EventType type,
             std::string_view reason, std::string_view message,
             const std::map<std::string, std::string>& annotations);
  // Notes the Event as the object's most recently written one; returns the object's least
  // recently written Events beyond maxEventsPerObject, taken out of the index, to delete.
  std::vector<std::string> index(const InvolvedObject& object, const std::string& eventName,
                                 uint64_t resourceVersion);
  // Takes one Event out of the index (it was deleted).
  void forget(const std::string& ns, const std::string& eventName);
  // Adds one Event to the index, or moves it to `resourceVersion`. Called with indexMutex_ held.
  void note(const ObjectRef& object, const std::string& eventName, uint64_t resourceVersion);
  // Fills the index from the store's Events of `ns`, once per namespace. Called with
  // indexMutex_ held.
  void loadNamespace(const std::string& ns);
  // The lock of one Event's read-modify-write (count aggregation), chosen by its name.
  std::mutex& lockFor(const std::string& ns, const std::string& eventName);

  std::unique_ptr<EventStore> ownedStore_;  // the adapter of a store::Store, if given one
  EventStore& store_;
  const EventRecorderOptions options_;
  std::array<std::mutex, 64> eventLocks_;
  std::mutex indexMutex_;  // guards the three below
  std::map<ObjectRef, Written> written_;
  std::map<std::pair<std::string, std::string>, ObjectRef> objectOf_;  // (namespace, event name)
  std::set<std::string> loadedNamespaces_;
};

}  // namespace siteplane::events

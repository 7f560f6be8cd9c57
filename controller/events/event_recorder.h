#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

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
// every resync. Thread-safe.
class EventRecorder {
 public:
  // `store` must outlive the recorder.
  EventRecorder(store::Store& store, EventRecorderOptions options);
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
  void write(const std::string& eventName, const InvolvedObject& object, EventType type,
             std::string_view reason, std::string_view message,
             const std::map<std::string, std::string>& annotations);
  // Deletes the object's least recently written Events beyond maxEventsPerObject.
  void prune(const InvolvedObject& object);

  store::Store& store_;
  const EventRecorderOptions options_;
  std::mutex mutex_;  // serializes read-modify-write of one Event (count aggregation)
};

}  // namespace siteplane::events

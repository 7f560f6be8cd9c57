#include "controller/events/event_recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "controller/api/time.h"

namespace siteplane::events {
namespace {

// A DNS-1123 label is at most 63 characters; "-" and 16 hex digits follow the object's name.
constexpr size_t kMaxNamePrefix = 63 - 17;

const char* typeName(EventType type) { return type == EventType::kWarning ? "Warning" : "Normal"; }

// FNV-1a: stable across processes and builds (std::hash is not promised to be), so a restarted
// controller still aggregates into the Events it wrote before.
uint64_t fnv1a(std::initializer_list<std::string_view> parts) {
  uint64_t hash = 14695981039346656037ull;
  for (std::string_view part : parts) {
    for (unsigned char c : part) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
    hash ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
    hash *= 1099511628211ull;
  }
  return hash;
}

uint64_t resourceVersionOf(const nlohmann::json& object) {
  const auto& metadata = object.value("metadata", nlohmann::json::object());
  std::string text = metadata.value("resourceVersion", std::string());
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

}  // namespace

EventRecorder::EventRecorder(store::Store& store, EventRecorderOptions options)
    : ownedStore_(std::make_unique<StoreEventStore>(store)),
      store_(*ownedStore_),
      options_(std::move(options)) {}

EventRecorder::EventRecorder(EventStore& store, EventRecorderOptions options)
    : store_(store), options_(std::move(options)) {}

std::string EventRecorder::correlatedName(const InvolvedObject& object, EventType type,
                                          std::string_view reason, std::string_view message) {
  std::string prefix;
  for (char c : object.name.substr(0, kMaxNamePrefix)) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a'), keep = true;
    prefix += keep ? c : '-';
  }
  // A label starts with a letter or digit.
  if (prefix.empty() || prefix.front() == '-') prefix.insert(0, "e");
  if (prefix.size() > kMaxNamePrefix) prefix.resize(kMaxNamePrefix);
  uint64_t hash =
      fnv1a({object.kind, object.ns, object.name, object.uid, typeName(type), reason, message});
  return fmt::format("{}-{:016x}", prefix, hash);
}

void EventRecorder::record(const InvolvedObject& object, EventType type, std::string_view reason,
                           std::string_view message) {
  write(correlatedName(object, type, reason, message), object, type, reason, message, {});
}

void EventRecorder::recordNamed(const std::string& eventName, const InvolvedObject& object,
                                EventType type, std::string_view reason, std::string_view message,
                                const std::map<std::string, std::string>& annotations) {
  write(eventName, object, type, reason, message, annotations);
}

void EventRecorder::remove(const std::string& ns, const std::string& eventName) {
  forget(ns, eventName);
  auto removed = store_.remove({"Event", ns, eventName});
  if (!removed && removed.code() != ErrorCode::kNotFound)
    logger("controller.events")
        ->warn("event_not_removed event={}/{} error=\"{}\"", ns, eventName, removed.message());
}

void EventRecorder::write(const std::string& eventName, const InvolvedObject& object,
                          EventType type, std::string_view reason, std::string_view message,
                          const std::map<std::string, std::string>& annotations) {
  auto log = logger("controller.events");
  try {
    std::unique_lock lock(lockFor(object.ns, eventName));
    const std::string now = api::formatTime(
        std::chrono::time_point_cast<std::chrono::seconds>(options_.clock->wallNow()));
    auto existing = store_.get({"Event", object.ns, eventName});
    if (!existing && existing.code() != ErrorCode::kNotFound) {
      log->warn("event_not_written event={}/{} reason={} error=\"{}\"", object.ns, eventName,
                reason, existing.message());
      return;
    }
    nlohmann::json event;
    if (existing) {
      event = **existing;
      event["count"] = event.value("count", 0) + 1;
    } else {
      event = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", eventName}, {"namespace", object.ns}}},
               {"count", 1},
               {"firstTimestamp", now}};
    }
    for (const auto& [name, value] : annotations) event["metadata"]["annotations"][name] = value;
    nlohmann::json involved = {{"apiVersion", object.apiVersion},
                               {"kind", object.kind},
                               {"namespace", object.ns},
                               {"name", object.name}};
    if (!object.uid.empty()) involved["uid"] = object.uid;
    event["involvedObject"] = std::move(involved);
    event["reason"] = std::string(reason);
    event["message"] = std::string(message);
    event["type"] = typeName(type);
    event["source"] = {{"component", options_.component}};
    event["lastTimestamp"] = now;
    auto written = existing ? store_.update(std::move(event)) : store_.create(std::move(event));
    lock.unlock();
    if (!written) {
      log->warn("event_not_written event={}/{} reason={} error=\"{}\"", object.ns, eventName,
                reason, written.message());
      return;
    }
    for (const std::string& stale : index(object, eventName, resourceVersionOf(**written)))
      remove(object.ns, stale);
  } catch (const std::exception& e) {
    // Recording never fails the caller (see the class comment).
    log->warn("event_not_written event={}/{} reason={} error=\"{}\"", object.ns, eventName, reason,
              e.what());
  }
}

std::mutex& EventRecorder::lockFor(const std::string& ns, const std::string& eventName) {
  return eventLocks_[fnv1a({ns, eventName}) % eventLocks_.size()];
}

std::vector<std::string> EventRecorder::index(const InvolvedObject& object,
                                              const std::string& eventName,
                                              uint64_t resourceVersion) {
  std::lock_guard lock(indexMutex_);
  loadNamespace(object.ns);
  const ObjectRef ref{object.ns, object.kind, object.name};
  note(ref, eventName, resourceVersion);

  Written& mine = written_[ref];
  std::vector<std::string> stale;
  while (mine.byVersion.size() > options_.maxEventsPerObject) {
    auto oldest = mine.byVersion.begin();
    stale.push_back(oldest->second);
    objectOf_.erase({object.ns, oldest->second});
    mine.versionOf.erase(oldest->second);
    mine.byVersion.erase(oldest);
  }
  return stale;
}

void EventRecorder::note(const ObjectRef& object, const std::string& eventName,
                         uint64_t resourceVersion) {
  auto [owner, added] = objectOf_.try_emplace({std::get<0>(object), eventName}, object);
  if (!added && owner->second != object) {
    // A named Event now about another object (recordNamed reuses names).
    Written& before = written_[owner->second];
    before.byVersion.erase({before.versionOf[eventName], eventName});
    before.versionOf.erase(eventName);
    owner->second = object;
  }
  Written& mine = written_[object];
  if (auto known = mine.versionOf.find(eventName); known != mine.versionOf.end()) {
    // Two writers of one Event may reach here out of order; the later version stands.
    if (known->second >= resourceVersion) return;
    mine.byVersion.erase({known->second, eventName});
    known->second = resourceVersion;
  } else {
    mine.versionOf.emplace(eventName, resourceVersion);
  }
  mine.byVersion.emplace(resourceVersion, eventName);
}

void EventRecorder::forget(const std::string& ns, const std::string& eventName) {
  std::lock_guard lock(indexMutex_);
  auto owner = objectOf_.find({ns, eventName});
  if (owner == objectOf_.end()) return;
  Written& theirs = written_[owner->second];
  theirs.byVersion.erase({theirs.versionOf[eventName], eventName});
  theirs.versionOf.erase(eventName);
  if (theirs.versionOf.empty()) written_.erase(owner->second);
  objectOf_.erase(owner);
}

void EventRecorder::loadNamespace(const std::string& ns) {
  if (!loadedNamespaces_.insert(ns).second) return;
  for (const auto& item : store_.list(ns).items) {
    const auto& involved = item->value("involvedObject", nlohmann::json::object());
    note({ns, involved.value("kind", std::string()), involved.value("name", std::string())},
         (*item)["metadata"].value("name", std::string()), resourceVersionOf(*item));
  }
}

}  // namespace siteplane::events

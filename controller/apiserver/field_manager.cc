#include "controller/apiserver/field_manager.h"

#include <algorithm>
#include <map>

namespace siteplane::apiserver {
namespace {

// A string member of a managedFields entry a client sent; `fallback` when absent or not a string
// (nlohmann's value() throws for a member of another type).
std::string stringField(const nlohmann::json& item, const char* name, const char* fallback) {
  auto it = item.find(name);
  return it != item.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Metadata fields a user may own; the rest of metadata is server-set or identity.
bool isUserMetadata(const std::string& key) {
  return key == "labels" || key == "annotations" || key == "finalizers" || key == "ownerReferences";
}

// Whether a top-level key of the object belongs to the given subresource's field set.
bool topLevelIncluded(const std::string& key, const std::string& subresource) {
  if (subresource == "status") return key == "status";
  return key != "status" && key != "apiVersion" && key != "kind";
}

bool isPrefix(const FieldPath& prefix, const FieldPath& path) {
  return prefix.size() <= path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

void collectLeaves(const nlohmann::json& node, FieldPath& path, std::set<FieldPath>& out) {
  if (node.is_object() && !node.empty()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (path.size() == 1 && path[0] == "metadata" && !isUserMetadata(it.key())) continue;
      path.push_back(it.key());
      collectLeaves(it.value(), path, out);
      path.pop_back();
    }
    return;
  }
  // metadata itself is never a leaf: an empty metadata owns nothing.
  if (path.size() == 1 && path[0] == "metadata") return;
  out.insert(path);
}

void collectTopLevel(const nlohmann::json& object, const std::string& subresource,
                     std::set<FieldPath>& out) {
  if (!object.is_object()) return;
  FieldPath path;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!topLevelIncluded(it.key(), subresource)) continue;
    path.push_back(it.key());
    collectLeaves(it.value(), path, out);
    path.pop_back();
  }
}

void collectChanged(const nlohmann::json* before, const nlohmann::json* after, FieldPath& path,
                    std::set<FieldPath>& out) {
  bool beforeObject = before && before->is_object();
  bool afterObject = after && after->is_object();
  if (beforeObject && afterObject) {
    std::set<std::string> keys;
    for (auto it = before->begin(); it != before->end(); ++it) keys.insert(it.key());
    for (auto it = after->begin(); it != after->end(); ++it) keys.insert(it.key());
    for (const auto& key : keys) {
      if (path.size() == 1 && path[0] == "metadata" && !isUserMetadata(key)) continue;
      auto b = before->find(key);
      auto a = after->find(key);
      path.push_back(key);
      collectChanged(b == before->end() ? nullptr : &*b, a == after->end() ? nullptr : &*a, path,
                     out);
      path.pop_back();
    }
    return;
  }
  if (before && after && *before == *after) return;
  // One side is missing or the kinds differ: every leaf on either side changed.
  if (before) collectLeaves(*before, path, out);
  if (after) collectLeaves(*after, path, out);
}

const nlohmann::json* valueAt(const nlohmann::json& object, const FieldPath& path) {
  const nlohmann::json* node = &object;
  for (const auto& key : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

void eraseAt(nlohmann::json& object, const FieldPath& path) {
  nlohmann::json* node = &object;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (!node->is_object() || !node->contains(path[i])) return;
    node = &(*node)[path[i]];
  }
  if (node->is_object() && !path.empty()) node->erase(path.back());
}

// Maps merge key by key; everything else (scalars, lists) replaces. A null removes the field.
void mergeInto(nlohmann::json& target, const nlohmann::json& source) {
  for (auto it = source.begin(); it != source.end(); ++it) {
    if (it->is_null()) {
      target.erase(it.key());
    } else if (it->is_object() && target.contains(it.key()) && target[it.key()].is_object()) {
      mergeInto(target[it.key()], *it);
    } else {
      target[it.key()] = *it;
    }
  }
}

// The part of an applied configuration a subresource write may change.
nlohmann::json applicablePart(const nlohmann::json& applied, const std::string& subresource) {
  nlohmann::json out = nlohmann::json::object();
  for (auto it = applied.begin(); it != applied.end(); ++it) {
    if (!topLevelIncluded(it.key(), subresource)) continue;
    if (it.key() == "metadata" && it->is_object()) {
      nlohmann::json metadata = nlohmann::json::object();
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (isUserMetadata(m.key())) metadata[m.key()] = *m;
      }
      out["metadata"] = std::move(metadata);
    } else {
      out[it.key()] = *it;
    }
  }
  return out;
}

nlohmann::json fieldsFromTrie(const nlohmann::json& node, FieldPath& path,
                              std::set<FieldPath>& out) {
  bool hasChildren = false;
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string& key = it.key();
      if (key.rfind("f:", 0) == 0) {
        hasChildren = true;
        path.push_back(key.substr(2));
        fieldsFromTrie(*it, path, out);
        path.pop_back();
      } else if (key.rfind("k:", 0) == 0 || key.rfind("v:", 0) == 0 || key.rfind("i:", 0) == 0) {
        // An element of a keyed list or set: siteplane owns lists whole, so the list is the leaf.
        out.insert(path);
        return nullptr;
      }
    }
  }
  if (!hasChildren && !path.empty()) out.insert(path);
  return nullptr;
}

}  // namespace

std::string formatFieldPath(const FieldPath& path) {
  std::string out;
  for (const auto& key : path) out += "." + key;
  return out;
}

FieldSet FieldSet::fromObject(const nlohmann::json& object, const std::string& subresource) {
  FieldSet set;
  collectTopLevel(object, subresource, set.paths_);
  return set;
}

FieldSet FieldSet::fromFieldsV1(const nlohmann::json& fields) {
  FieldSet set;
  FieldPath path;
  (void)fieldsFromTrie(fields, path, set.paths_);
  return set;
}

FieldSet FieldSet::changed(const nlohmann::json& before, const nlohmann::json& after,
                           const std::string& subresource) {
  FieldSet set;
  std::set<std::string> keys;
  if (before.is_object()) {
    for (auto it = before.begin(); it != before.end(); ++it) keys.insert(it.key());
  }
  if (after.is_object()) {
    for (auto it = after.begin(); it != after.end(); ++it) keys.insert(it.key());
  }
  FieldPath path;
  for (const auto& key : keys) {
    if (!topLevelIncluded(key, subresource)) continue;
    const nlohmann::json* b = before.is_object() && before.contains(key) ? &before[key] : nullptr;
    const nlohmann::json* a = after.is_object() && after.contains(key) ? &after[key] : nullptr;
    path.push_back(key);
    collectChanged(b, a, path, set.paths_);
    path.pop_back();
  }
  return set;
}

nlohmann::json FieldSet::toFieldsV1() const {
  nlohmann::json trie = nlohmann::json::object();
  for (const auto& path : paths_) {
    nlohmann::json* node = &trie;
    for (const auto& key : path) node = &(*node)["f:" + key];
    if (node->is_null()) *node = nlohmann::json::object();
  }
  return trie;
}

void FieldSet::removeOverlapping(const FieldPath& path) {
  for (auto it = paths_.begin(); it != paths_.end();) {
    if (isPrefix(path, *it) || isPrefix(*it, path)) {
      it = paths_.erase(it);
    } else {
      ++it;
    }
  }
}

void FieldSet::removeWithin(const FieldPath& path) {
  for (auto it = paths_.begin(); it != paths_.end();) {
    if (isPrefix(path, *it)) {
      it = paths_.erase(it);
    } else {
      ++it;
    }
  }
}

bool FieldSet::overlaps(const FieldPath& path) const {
  return std::any_of(paths_.begin(), paths_.end(), [&](const FieldPath& owned) {
    return isPrefix(path, owned) || isPrefix(owned, path);
  });
}

void forgetFields(nlohmann::json& object, const std::vector<FieldPath>& removed) {
  if (removed.empty()) return;
  std::vector<ManagedFieldsEntry> entries = readManagedFields(object);
  if (entries.empty()) return;
  for (auto& entry : entries)
    for (const auto& path : removed) entry.fields.removeWithin(path);
  writeManagedFields(object, entries);
}

std::vector<ManagedFieldsEntry> readManagedFields(const nlohmann::json& object) {
  std::vector<ManagedFieldsEntry> entries;
  if (!object.contains("metadata") || !object["metadata"].contains("managedFields")) {
    return entries;
  }
  const nlohmann::json& list = object["metadata"]["managedFields"];
  if (!list.is_array()) return entries;
  for (const auto& item : list) {
    if (!item.is_object()) continue;
    ManagedFieldsEntry entry;
    entry.manager = stringField(item, "manager", "");
    entry.operation = stringField(item, "operation", "Update");
    entry.apiVersion = stringField(item, "apiVersion", "");
    entry.time = stringField(item, "time", "");
    entry.subresource = stringField(item, "subresource", "");
    if (item.contains("fieldsV1")) entry.fields = FieldSet::fromFieldsV1(item["fieldsV1"]);
    entries.push_back(std::move(entry));
  }
  return entries;
}

void writeManagedFields(nlohmann::json& object, const std::vector<ManagedFieldsEntry>& entries) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& entry : entries) {
    if (entry.fields.empty()) continue;
    nlohmann::json item = {
        {"manager", entry.manager},       {"operation", entry.operation},
        {"apiVersion", entry.apiVersion}, {"time", entry.time},
        {"fieldsType", "FieldsV1"},       {"fieldsV1", entry.fields.toFieldsV1()}};
    if (!entry.subresource.empty()) item["subresource"] = entry.subresource;
    list.push_back(std::move(item));
  }
  if (list.empty()) {
    if (object.contains("metadata")) object["metadata"].erase("managedFields");
    return;
  }
  object["metadata"]["managedFields"] = std::move(list);
}

ApplyOutcome applyConfiguration(const nlohmann::json& current, const nlohmann::json& applied,
                                const std::string& manager, bool force,
                                const std::string& subresource, const std::string& apiVersion,
                                const std::string& now) {
  ApplyOutcome outcome;
  FieldSet applySet = FieldSet::fromObject(applied, subresource);
  std::vector<ManagedFieldsEntry> entries =
      current.is_object() ? readManagedFields(current) : std::vector<ManagedFieldsEntry>{};
  auto isSelf = [&](const ManagedFieldsEntry& entry) {
    return entry.manager == manager && entry.operation == "Apply" &&
           entry.subresource == subresource;
  };

  // A field is in conflict when another manager owns it and the applied value differs from the
  // live one; applying the value that is already there just shares ownership.
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& live = current.is_object() ? current : empty;
  std::map<std::pair<std::string, FieldPath>, FieldConflict> conflicts;
  for (const auto& path : applySet.paths()) {
    const nlohmann::json* wanted = valueAt(applied, path);
    const nlohmann::json* have = valueAt(live, path);
    bool same = wanted && have && *wanted == *have;
    if (same) continue;
    for (const auto& entry : entries) {
      if (isSelf(entry) || !entry.fields.overlaps(path)) continue;
      conflicts.emplace(std::make_pair(entry.manager, path),
                        FieldConflict{entry.manager, entry.apiVersion, path});
    }
  }
  if (!conflicts.empty() && !force) {
    for (auto& [key, conflict] : conflicts) outcome.conflicts.push_back(std::move(conflict));
    return outcome;
  }
  for (const auto& [key, conflict] : conflicts) {
    for (auto& entry : entries) {
      if (!isSelf(entry)) entry.fields.removeOverlapping(conflict.path);
    }
  }

  nlohmann::json object = current.is_object() ? current : nlohmann::json::object();
  // Fields this manager applied last time but no longer does are dropped, unless another
  // manager still owns them.
  auto self = std::find_if(entries.begin(), entries.end(), isSelf);
  if (self != entries.end()) {
    for (const auto& path : self->fields.paths()) {
      if (applySet.overlaps(path)) continue;
      bool ownedElsewhere = std::any_of(entries.begin(), entries.end(), [&](const auto& entry) {
        return !isSelf(entry) && entry.fields.overlaps(path);
      });
      if (!ownedElsewhere) eraseAt(object, path);
    }
  }
  if (!object.contains("apiVersion") && applied.contains("apiVersion")) {
    object["apiVersion"] = applied["apiVersion"];
  }
  if (!object.contains("kind") && applied.contains("kind")) object["kind"] = applied["kind"];
  if (!object.contains("metadata")) object["metadata"] = nlohmann::json::object();
  if (applied.contains("metadata") && applied["metadata"].is_object()) {
    for (const char* identity : {"name", "namespace"}) {
      if (!object["metadata"].contains(identity) && applied["metadata"].contains(identity)) {
        object["metadata"][identity] = applied["metadata"][identity];
      }
    }
  }
  mergeInto(object, applicablePart(applied, subresource));

  if (self != entries.end()) {
    self->fields = applySet;
    self->time = now;
    self->apiVersion = apiVersion;
  } else {
    entries.push_back({manager, "Apply", apiVersion, now, subresource, applySet});
  }
  writeManagedFields(object, entries);
  outcome.object = std::move(object);
  return outcome;
}

void recordUpdate(const nlohmann::json& before, nlohmann::json& after, const std::string& manager,
                  const std::string& subresource, const std::string& apiVersion,
                  const std::string& now) {
  const nlohmann::json empty = nlohmann::json::object();
  FieldSet changed = FieldSet::changed(before.is_object() ? before : empty, after, subresource);
  std::vector<ManagedFieldsEntry> entries =
      before.is_object() ? readManagedFields(before) : std::vector<ManagedFieldsEntry>{};
  for (auto& entry : entries) {
    if (entry.manager == manager && entry.operation == "Update" &&
        entry.subresource == subresource) {
      continue;
    }
    for (const auto& path : changed.paths()) entry.fields.removeOverlapping(path);
  }
  if (!changed.empty()) {
    auto self = std::find_if(entries.begin(), entries.end(), [&](const auto& entry) {
      return entry.manager == manager && entry.operation == "Update" &&
             entry.subresource == subresource;
    });
    if (self == entries.end()) {
      entries.push_back({manager, "Update", apiVersion, now, subresource, FieldSet()});
      self = std::prev(entries.end());
    }
    // Fields the writer removed are no longer anybody's.
    for (const auto& path : changed.paths()) {
      if (valueAt(after, path)) {
        self->fields.insert(path);
      } else {
        self->fields.removeOverlapping(path);
      }
    }
    self->time = now;
    self->apiVersion = apiVersion;
  }
  writeManagedFields(after, entries);
}

std::string conflictMessage(const std::vector<FieldConflict>& conflicts) {
  std::string message = "Apply failed with " + std::to_string(conflicts.size()) +
                        (conflicts.size() == 1 ? " conflict: " : " conflicts: ");
  if (conflicts.size() == 1) {
    const auto& conflict = conflicts.front();
    return message + "conflict with \"" + conflict.manager + "\" using " + conflict.apiVersion +
           ": " + formatFieldPath(conflict.path);
  }
  std::map<std::string, std::vector<std::string>> byManager;
  for (const auto& conflict : conflicts) {
    byManager[conflict.manager + "\" using " + conflict.apiVersion].push_back(
        formatFieldPath(conflict.path));
  }
  bool first = true;
  for (const auto& [manager, paths] : byManager) {
    if (!first) message += "\n";
    first = false;
    message += "conflicts with \"" + manager + ":";
    for (const auto& path : paths) message += "\n- " + path;
  }
  return message;
}

}  // namespace siteplane::apiserver

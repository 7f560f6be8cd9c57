#pragma once

// Field ownership as Kubernetes server-side apply tracks it: every object carries
// metadata.managedFields, one entry per (manager, operation, subresource) with the set of fields
// that manager last set, in the `fieldsV1` trie form (`{"f:spec": {"f:port": {}}}`).
//
// Lists are treated as atomic (one owner for the whole list), as Kubernetes does for lists whose
// schema declares no list-type; maps merge key by key.

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace siteplane::apiserver {

using FieldPath = std::vector<std::string>;  // {"spec", "ssl", "requireSSL"}

// ".spec.ssl.requireSSL", the form Kubernetes prints in conflict messages.
std::string formatFieldPath(const FieldPath& path);

class FieldSet {
 public:
  // The leaf fields an object sets. `subresource` "status" takes only status; "" takes
  // everything but status and the server-set metadata (name, uid, resourceVersion, ...).
  static FieldSet fromObject(const nlohmann::json& object, const std::string& subresource);
  static FieldSet fromFieldsV1(const nlohmann::json& fields);
  // The fields whose values differ between two versions of an object (added, changed, removed).
  static FieldSet changed(const nlohmann::json& before, const nlohmann::json& after,
                          const std::string& subresource);

  nlohmann::json toFieldsV1() const;
  bool empty() const { return paths_.empty(); }
  const std::set<FieldPath>& paths() const { return paths_; }
  void insert(const FieldPath& path) { paths_.insert(path); }
  // Removes every path equal to, under or above `path` (they overlap).
  void removeOverlapping(const FieldPath& path);
  // Removes every path equal to or under `path`.
  void removeWithin(const FieldPath& path);
  bool overlaps(const FieldPath& path) const;

 private:
  std::set<FieldPath> paths_;
};

struct ManagedFieldsEntry {
  std::string manager;
  std::string operation;  // "Apply" or "Update"
  std::string apiVersion;
  std::string time;  // RFC 3339
  std::string subresource;
  FieldSet fields;
};

std::vector<ManagedFieldsEntry> readManagedFields(const nlohmann::json& object);
// Writes entries into metadata.managedFields, dropping entries that own nothing.
void writeManagedFields(nlohmann::json& object, const std::vector<ManagedFieldsEntry>& entries);

// Removes from every entry of metadata.managedFields the fields at or under each of `removed`:
// fields dropped from the object after its ownership was recorded (unknown fields pruned under
// fieldValidation Warn/Ignore), which the stored object must not claim.
void forgetFields(nlohmann::json& object, const std::vector<FieldPath>& removed);

struct FieldConflict {
  std::string manager;
  std::string apiVersion;
  FieldPath path;
};

struct ApplyOutcome {
  nlohmann::json object;                 // the merged object, with managedFields updated
  std::vector<FieldConflict> conflicts;  // non-empty (and object unset) when refused
};

// Server-side apply of `applied` (the user's configuration) by `manager` onto `current` (null
// when the object does not exist yet). A field set to a different value than another manager
// set is a conflict unless `force`, which takes the field over. Fields this manager applied
// before and no longer applies are removed unless another manager also owns them.
ApplyOutcome applyConfiguration(const nlohmann::json& current, const nlohmann::json& applied,
                                const std::string& manager, bool force,
                                const std::string& subresource, const std::string& apiVersion,
                                const std::string& now);

// Records a non-apply write (create, update, patch) by `manager`: the fields it changed become
// its own (operation Update) and leave every other manager. `before` is null for a create.
void recordUpdate(const nlohmann::json& before, nlohmann::json& after, const std::string& manager,
                  const std::string& subresource, const std::string& apiVersion,
                  const std::string& now);

// The conflict message Kubernetes prints: `Apply failed with 1 conflict: conflict with
// "kubectl-client-side-apply" using siteplane.io/v1alpha1: .spec.port`.
std::string conflictMessage(const std::vector<FieldConflict>& conflicts);

}  // namespace siteplane::apiserver

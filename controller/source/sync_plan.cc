#include "controller/source/sync_plan.h"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "common/annotations.h"
#include "controller/api/field_path.h"

namespace siteplane::source {
namespace {

using Claimant = std::pair<const std::string*, const nlohmann::json*>;  // file, object

const nlohmann::json::json_pointer& ownerPointer() {
  static const nlohmann::json::json_pointer pointer(
      "/metadata/annotations/" + api::escapePointerToken(kManifestFileAnnotation));
  return pointer;
}

const nlohmann::json& fieldOr(const nlohmann::json& object, const char* pointer,
                              const nlohmann::json& fallback) {
  nlohmann::json::json_pointer path(pointer);
  return object.contains(path) ? object.at(path) : fallback;
}

// Labels and annotations compare as maps: absent and {} are the same.
nlohmann::json mapField(const nlohmann::json& object, const char* pointer) {
  static const nlohmann::json kNull;
  const nlohmann::json& value = fieldOr(object, pointer, kNull);
  return value.is_null() ? nlohmann::json::object() : value;
}

// Whether the stored object already says what the file says (spec, labels, annotations), so that
// a rescan writes nothing when nothing changed.
bool sameDeclaration(const nlohmann::json& stored, const nlohmann::json& desired) {
  static const nlohmann::json kNull;
  return stored.value("apiVersion", "") == desired.value("apiVersion", "") &&
         fieldOr(stored, "/spec", kNull) == fieldOr(desired, "/spec", kNull) &&
         mapField(stored, "/metadata/labels") == mapField(desired, "/metadata/labels") &&
         mapField(stored, "/metadata/annotations") == mapField(desired, "/metadata/annotations");
}

// The one declaration of each object that counts; the others are conflicts of their files.
std::map<ObjectKey, const nlohmann::json*> chooseDeclarations(
    const std::map<ObjectKey, std::vector<Claimant>>& claims,
    const std::map<ObjectKey, store::ObjectPtr>& stored, const std::filesystem::path& directory,
    std::map<std::string, std::string>& conflicts) {
  std::map<ObjectKey, const nlohmann::json*> desired;
  for (const auto& [key, claimants] : claims) {
    size_t winner = 0;
    if (claimants.size() > 1) {
      // The file that already owns the object keeps it; otherwise the first in path order.
      if (auto current = stored.find(key); current != stored.end()) {
        const nlohmann::json& owner = *current->second;
        const std::string ownerFile =
            owner.contains(ownerPointer()) && owner.at(ownerPointer()).is_string()
                ? owner.at(ownerPointer()).get<std::string>()
                : std::string();
        for (size_t i = 0; i < claimants.size(); ++i)
          if (*claimants[i].first == ownerFile) winner = i;
      }
      for (size_t i = 0; i < claimants.size(); ++i) {
        if (i == winner) continue;
        conflicts[*claimants[i].first] +=
            fmt::format("{}: {} \"{}\" in namespace \"{}\" is already declared by {}\n",
                        (directory / *claimants[i].first).string(), key.kind, key.name, key.ns,
                        *claimants[winner].first);
      }
    }
    desired.emplace(key, claimants[winner].second);
  }
  return desired;
}

void planDeclared(const std::map<ObjectKey, const nlohmann::json*>& desired,
                  const std::map<ObjectKey, store::ObjectPtr>& stored, SyncPlan& plan) {
  using Action = PlannedWrite::Action;
  for (const auto& [key, object] : desired) {
    auto current = stored.find(key);
    if (current == stored.end()) {
      plan.writes.push_back({Action::kCreate, key, object->at(ownerPointer()).get<std::string>(),
                             store::WriteOp::create(*object)});
      continue;
    }
    if (sameDeclaration(*current->second, *object)) {
      ++plan.unchanged;
      continue;
    }
    nlohmann::json update = *object;
    update["metadata"]["resourceVersion"] = (*current->second)["metadata"]["resourceVersion"];
    plan.writes.push_back({Action::kUpdate, key, "", store::WriteOp::update(std::move(update))});
  }
}

void planPrunes(const std::map<ObjectKey, const nlohmann::json*>& desired,
                const std::map<ObjectKey, store::ObjectPtr>& stored,
                const std::set<std::string>& protectedFiles, SyncPlan& plan) {
  for (const auto& [key, object] : stored) {
    if (desired.count(key)) continue;
    if (!object->contains(ownerPointer())) continue;  // created through the API: not ours
    const auto& owner = object->at(ownerPointer());
    if (owner.is_string() && protectedFiles.count(owner.get<std::string>())) continue;
    plan.writes.push_back(
        {PlannedWrite::Action::kPrune, key, owner.dump(),
         store::WriteOp::remove(key, (*object)["metadata"].value("resourceVersion", ""))});
  }
}

}  // namespace

ObjectKey declaredKey(const nlohmann::json& object) {
  const nlohmann::json& metadata = object.at("metadata");
  return {object.value("kind", ""), metadata.value("namespace", "default"),
          metadata.value("name", "")};
}

SyncPlan planSync(const std::map<std::string, DeclaringFile>& files,
                  const std::map<ObjectKey, store::ObjectPtr>& stored,
                  const std::filesystem::path& directory) {
  SyncPlan plan;
  // Who declares what. A file that does not load declares its last good objects; a file that has
  // never loaded protects the objects already annotated with it.
  std::map<ObjectKey, std::vector<Claimant>> claims;
  std::set<std::string> protectedFiles;
  for (const auto& [relative, file] : files) {
    if (!file.ok) {
      ++plan.invalidFiles;
      protectedFiles.insert(relative);
    }
    if (!file.hasLastGood || !file.objects) continue;
    for (const auto& object : *file.objects)
      claims[declaredKey(object)].push_back({&relative, &object});
  }
  const auto desired = chooseDeclarations(claims, stored, directory, plan.conflicts);
  planDeclared(desired, stored, plan);
  planPrunes(desired, stored, protectedFiles, plan);
  return plan;
}

}  // namespace siteplane::source

// What every write goes through before the store: dryRun and fieldValidation, the manifest
// ownership rule, validation by the object decoder, and the store call itself.

#include <algorithm>

#include "common/object_key.h"
#include "controller/api/object_codec.h"
#include "controller/api/object_meta.h"
#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/api_handler_support.h"
#include "controller/apiserver/field_manager.h"

namespace siteplane::apiserver {
namespace {

// What the store would make of an update of `current` to `object`: the server-set metadata of
// `current` (uid, creationTimestamp, resourceVersion), generation bumped when anything outside
// metadata and status changes, and `current`'s status. kubectl diff shows the difference between
// this and the live object, so a field missing here would show up as a change.
nlohmann::json updatePreview(const nlohmann::json& current, nlohmann::json object) {
  const nlohmann::json& stored = current["metadata"];
  nlohmann::json& metadata = object["metadata"];
  for (const char* field : {"uid", "creationTimestamp", "generation", "resourceVersion"}) {
    if (stored.contains(field)) metadata[field] = stored[field];
  }
  auto body = [](nlohmann::json value) {
    for (const char* field : {"metadata", "status", "apiVersion", "kind"}) value.erase(field);
    return value;
  };
  if (body(object) != body(current) && stored.contains("generation") &&
      stored["generation"].is_number_integer()) {
    metadata["generation"] = stored["generation"].get<int64_t>() + 1;
  }
  if (current.contains("status")) {
    object["status"] = current["status"];
  } else {
    object.erase("status");
  }
  return object;
}

}  // namespace

std::optional<ApiError> ApiHandler::checkOwnership(const Target& target,
                                                   const nlohmann::json& current) {
  if (options_.allowApiOverride || !target.subresource.empty()) return std::nullopt;
  if (!current.is_object() || !current.contains("metadata")) return std::nullopt;
  const auto& metadata = current["metadata"];
  if (!metadata.contains("annotations") || !metadata["annotations"].is_object()) {
    return std::nullopt;
  }
  auto it = metadata["annotations"].find(kManifestFileAnnotation);
  if (it == metadata["annotations"].end() || !it->is_string()) return std::nullopt;
  ApiError error =
      ApiError::forbidden(target.type->kind + " \"" + target.name +
                          "\" is declared by the manifest file \"" + it->get<std::string>() +
                          "\", which is its source of truth: change that file instead (or "
                          "run siteplane serve with --allow-api-override to allow API writes)");
  error.name = target.name;
  error.group = target.type->group;
  error.kind = target.type->plural;
  return error;
}

namespace {

// The managedFields path of the field `pointer` names in `object`, or nothing when the field is
// inside a list: lists are owned whole (field_manager.h), so no path under one is recorded.
std::optional<FieldPath> ownedFieldPath(const nlohmann::json& object,
                                        nlohmann::json::json_pointer pointer) {
  FieldPath path;
  for (; !pointer.empty(); pointer = pointer.parent_pointer()) path.push_back(pointer.back());
  std::reverse(path.begin(), path.end());
  const nlohmann::json* node = &object;
  for (const std::string& key : path) {
    if (!node->is_object()) return std::nullopt;  // an index into a list
    auto child = node->find(key);
    if (child == node->end()) break;
    node = &*child;
  }
  return path;
}

}  // namespace

std::optional<ApiError> ApiHandler::validateObject(const Target& target, nlohmann::json& object,
                                                   bool dropUnknown,
                                                   std::vector<std::string>& warnings) {
  std::string name = metadataString(object, "name");
  if (target.type->group != api::kGroup) {
    if (name.empty()) {
      return invalidObject(
          *target.type, name,
          {{"FieldValueRequired", "Required value: name is required", "metadata.name"}});
    }
    // The store keys every object by DNS-1123 labels; say so with the field path.
    if (!isDns1123Label(name)) {
      return invalidObject(
          *target.type, name,
          {{"FieldValueInvalid",
            "Invalid value: \"" + name +
                "\": must be a DNS-1123 label "
                "(lower-case letters, digits and '-', alphanumeric at both ends, at "
                "most 63 characters)",
            "metadata.name"}});
    }
    return std::nullopt;
  }
  // The decoder checks what a user writes; server-set metadata is the store's business.
  auto decode = [&] {
    nlohmann::json document = {{"apiVersion", object.value("apiVersion", nlohmann::json())},
                               {"kind", object.value("kind", nlohmann::json())}};
    nlohmann::json metadata = nlohmann::json::object();
    if (object.contains("metadata") && object["metadata"].is_object()) {
      for (const char* field : {"name", "namespace", "labels", "annotations"}) {
        if (object["metadata"].contains(field)) metadata[field] = object["metadata"][field];
      }
    }
    document["metadata"] = metadata;
    if (object.contains("spec")) document["spec"] = object["spec"];
    if (target.subresource == "status" && object.contains("status")) {
      document["status"] = object["status"];
    }
    return api::decodeObject(document);
  };
  api::DecodeResult decoded = decode();
  if (dropUnknown && !decoded.ok()) {
    // fieldValidation=Ignore/Warn: unknown fields are dropped (and reported as warnings), as
    // Kubernetes prunes them; every other error still fails the write.
    bool dropped = false;
    std::vector<FieldPath> droppedOwnership;
    for (const auto& error : decoded.errors) {
      if (!error.unknownField || error.path.empty()) continue;
      nlohmann::json::json_pointer pointer(error.path.toPointer());
      nlohmann::json::json_pointer parent = pointer.parent_pointer();
      if (!object.contains(parent) || !object[parent].is_object()) continue;
      if (auto owned = ownedFieldPath(object, pointer)) droppedOwnership.push_back(*owned);
      object[parent].erase(pointer.back());
      warnings.push_back("unknown field \"" + error.path.toString() + "\"");
      dropped = true;
    }
    // managedFields were recorded from what was sent; what is stored must not claim (nor nest
    // as deep as) the fields that were dropped.
    forgetFields(object, droppedOwnership);
    if (dropped) decoded = decode();
  }
  if (decoded.ok()) return std::nullopt;
  std::vector<StatusCause> causes;
  for (const auto& error : decoded.errors) {
    causes.push_back({error.unknownField ? "FieldValueNotSupported" : "FieldValueInvalid",
                      error.message, error.path.toString()});
  }
  return invalidObject(*target.type, name, std::move(causes));
}

namespace {

const std::string* manifestFileOf(const nlohmann::json& object) {
  if (!object.is_object()) return nullptr;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  auto annotations = metadata->find("annotations");
  if (annotations == metadata->end() || !annotations->is_object()) return nullptr;
  auto found = annotations->find(kManifestFileAnnotation);
  if (found == annotations->end()) return nullptr;
  return found->get_ptr<const std::string*>();
}

}  // namespace

ApiHandler::Committed ApiHandler::commit(const ApiRequest& request, const Target& target,
                                         const nlohmann::json& current, nlohmann::json object,
                                         int successCode) {
  if (auto dryRun = request.param("dryRun"); dryRun && *dryRun != "All") {
    return reply(ApiError::badRequest("dryRun: the only supported value is \"All\", got \"" +
                                      *dryRun + "\""));
  }
  std::string fieldValidation = request.param("fieldValidation").value_or("Strict");
  if (fieldValidation != "Strict" && fieldValidation != "Warn" && fieldValidation != "Ignore") {
    return reply(ApiError::badRequest("fieldValidation: must be Strict, Warn or Ignore, got \"" +
                                      fieldValidation + "\""));
  }
  // Only the manifest source marks an object as declared by a file: the mark decides which
  // directories a Certificate may import from (certs::ImportPathPolicy), so an update or patch
  // may not add it to (or change it on) an object the API owns.
  if (!options_.allowApiOverride && target.subresource.empty()) {
    const std::string* wanted = manifestFileOf(object);
    const std::string* had = manifestFileOf(current);
    if (wanted && (!had || *had != *wanted)) {
      return reply(ApiError::forbidden(std::string("the annotation ") + kManifestFileAnnotation +
                                       " is set only by the manifest source"));
    }
  }
  std::vector<std::string> warnings;
  if (auto error = validateObject(target, object, fieldValidation != "Strict", warnings)) {
    return reply(*error);
  }
  Committed result = commitValidated(request, target, current, std::move(object), successCode);
  if (fieldValidation == "Warn") {
    for (const auto& warning : warnings) {
      nlohmann::json quoted = warning;
      result.reply.response.headers.emplace_back("Warning", "299 - " + quoted.dump());
    }
  }
  return result;
}

ApiHandler::Committed ApiHandler::commitValidated(const ApiRequest& request, const Target& target,
                                                  const nlohmann::json& current,
                                                  nlohmann::json object, int successCode) {
  if (request.param("dryRun")) {
    // Validated and not stored: answer with what would have been stored.
    if (current.is_object()) {
      nlohmann::json preview = current;
      if (target.subresource == "status") {
        preview["status"] = object.value("status", nlohmann::json::object());
      } else {
        preview = updatePreview(current, std::move(object));
      }
      return reply(jsonResponse(successCode, preview));
    }
    object.erase("status");
    return reply(jsonResponse(successCode, object));
  }
  Result<store::ObjectPtr> stored = !current.is_object() ? store_.createObject(std::move(object))
                                    : target.subresource == "status"
                                        ? store_.updateStatus(std::move(object))
                                        : store_.updateObject(std::move(object));
  if (!stored) {
    return {reply(fromStoreError(stored.status(), *target.type, target.name)), stored.code()};
  }
  return reply(jsonResponse(successCode, **stored));
}

ApiHandler::Committed ApiHandler::commitRemoval(const Target& target,
                                                const std::string& resourceVersion) {
  auto removed =
      store_.removeObject(ObjectKey{target.type->kind, *target.ns, target.name}, resourceVersion);
  if (!removed) {
    return {reply(fromStoreError(removed.status(), *target.type, target.name)), removed.code()};
  }
  return reply(jsonResponse(200, **removed));
}

}  // namespace siteplane::apiserver

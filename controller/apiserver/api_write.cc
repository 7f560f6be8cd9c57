// The write verbs: create, update (PUT), patch (merge, JSON and server-side apply) and delete.

#include <openssl/rand.h>

#include "common/object_key.h"
#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/api_handler_support.h"
#include "controller/apiserver/field_manager.h"
#include "controller/apiserver/json_bounds.h"
#include "controller/apiserver/table_converter.h"
#include "controller/apiserver/yaml_body.h"

namespace siteplane::apiserver {
namespace {

constexpr int kUpdateAttempts = 5;

// The field manager of a non-apply write: ?fieldManager, else the User-Agent's product name
// ("kubectl/v1.32 (linux/amd64) ..." -> "kubectl"), as Kubernetes derives it.
std::string fieldManagerOf(const ApiRequest& request) {
  if (auto manager = request.param("fieldManager"); manager && !manager->empty()) return *manager;
  std::string agent = request.header("User-Agent");
  agent = agent.substr(0, agent.find('/'));
  return agent.empty() ? "unknown" : agent.substr(0, 128);
}

std::string randomSuffix() {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char bytes[5];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return "00000";
  std::string out;
  for (unsigned char byte : bytes) out.push_back(kAlphabet[byte % (sizeof kAlphabet - 1)]);
  return out;
}

// Server-set metadata a client may echo back from a GET but never sets.
void clearServerMetadata(nlohmann::json& object) {
  if (!object.contains("metadata") || !object["metadata"].is_object()) return;
  for (const char* field : {"uid", "creationTimestamp", "generation", "managedFields", "selfLink",
                            "deletionTimestamp"}) {
    object["metadata"].erase(field);
  }
}

// Parses a request body by its Content-Type: JSON or YAML. The JSON parser's message names the
// byte offset and what it expected; nesting is bounded (json_bounds.h) before the value is built.
Result<nlohmann::json> parseBody(const ApiRequest& request) {
  auto types = parseMediaTypes(request.header("Content-Type"));
  std::string type = types.empty() ? "application/json" : types.front().type;
  if (request.body.empty()) return Result<nlohmann::json>::error("the request body is empty");
  if (type == "application/json") {
    return parseJsonBounded(request.body, "the body");
  }
  if (type == "application/yaml" || type == "application/x-yaml" || type == "text/yaml") {
    auto body = parseYamlBody(request.body);
    if (!body)
      return Result<nlohmann::json>::error("the body is not valid YAML: " + body.message());
    return body;
  }
  return Result<nlohmann::json>::error(
      ErrorCode::kUnsupportedMediaType,
      "the body of the request was in an unknown format (" + type +
          ") - accepted media types include: application/json, application/yaml");
}

// A body in a format the server does not read is 415; one that does not parse is 400.
ApiError bodyError(const Status& status) {
  if (status.code() == ErrorCode::kUnsupportedMediaType) {
    return ApiError::unsupportedMediaType(status.message());
  }
  return ApiError::badRequest(status.message());
}

// The object a create or update sends: a JSON object whose apiVersion and kind, when given, are
// those of the URL's resource (filled in when left out). Returns the error to answer otherwise.
std::optional<ApiError> readObjectBody(const ApiRequest& request, const ResourceType& type,
                                       nlohmann::json& object) {
  auto body = parseBody(request);
  if (!body) return bodyError(body.status());
  object = std::move(body).value();
  if (!object.is_object()) {
    return ApiError::badRequest("the body must be a JSON object, got " +
                                std::string(object.type_name()));
  }
  if (!object.contains("apiVersion")) object["apiVersion"] = type.apiVersion();
  if (!object.contains("kind")) object["kind"] = type.kind;
  if (object["apiVersion"] != type.apiVersion() || object["kind"] != type.kind) {
    return ApiError::badRequest("the object is " + object["apiVersion"].dump() + " " +
                                object["kind"].dump() + " but the URL is for " + type.apiVersion() +
                                " " + type.kind);
  }
  return std::nullopt;
}

}  // namespace

std::string ApiHandler::now() const { return formatRfc3339(options_.clock->wallNow()); }

ApiReply ApiHandler::create(const ApiRequest& request, const Target& target) {
  nlohmann::json object;
  if (auto error = readObjectBody(request, *target.type, object)) return reply(*error);
  const ResourceType& type = *target.type;
  if (!object.contains("metadata") || !object["metadata"].is_object()) {
    object["metadata"] = nlohmann::json::object();
  }
  nlohmann::json& metadata = object["metadata"];
  std::string ns = metaString(object, "namespace");
  if (!ns.empty() && ns != *target.ns) {
    return reply(ApiError::badRequest("the namespace of the provided object (" + ns +
                                      ") does not match the namespace sent on the request (" +
                                      *target.ns + ")"));
  }
  metadata["namespace"] = *target.ns;
  if (metaString(object, "name").empty() && !metaString(object, "generateName").empty()) {
    metadata["name"] = metaString(object, "generateName") + randomSuffix();
  }
  if (!metaString(object, "resourceVersion").empty()) {
    return reply(
        ApiError::badRequest("metadata.resourceVersion must not be set on an object to "
                             "be created"));
  }
  metadata.erase("resourceVersion");
  clearServerMetadata(object);
  Target named = target;
  named.name = metaString(object, "name");
  if (!options_.allowApiOverride && metadata.contains("annotations") &&
      metadata["annotations"].is_object() &&
      metadata["annotations"].contains(kManifestFileAnnotation)) {
    return reply(ApiError::forbidden(
        std::string("the annotation ") + kManifestFileAnnotation +
        " is set only by the manifest source; objects created through the API are owned by "
        "their field manager (run siteplane serve with --allow-api-override to allow it)"));
  }
  recordUpdate(nlohmann::json(), object, fieldManagerOf(request), "", type.apiVersion(), now());
  return commit(request, named, nlohmann::json(), std::move(object), 201);
}

ApiReply ApiHandler::update(const ApiRequest& request, const Target& target) {
  nlohmann::json object;
  if (auto error = readObjectBody(request, *target.type, object)) return reply(*error);
  const ResourceType& type = *target.type;
  std::string name = metaString(object, "name");
  if (name != target.name) {
    return reply(ApiError::badRequest("the name of the object (" + name +
                                      ") does not match the name on the URL (" + target.name +
                                      ")"));
  }
  std::string ns = metaString(object, "namespace");
  if (!ns.empty() && ns != *target.ns) {
    return reply(ApiError::badRequest("the namespace of the provided object (" + ns +
                                      ") does not match the namespace sent on the request (" +
                                      *target.ns + ")"));
  }
  object["metadata"]["namespace"] = *target.ns;
  bool clientPrecondition = !metaString(object, "resourceVersion").empty();
  for (int attempt = 0;; ++attempt) {
    auto current = store_.get(ObjectKey{type.kind, *target.ns, target.name});
    if (!current) return reply(fromStoreError(current.status(), type, target.name));
    if (auto error = checkOwnership(target, **current)) return reply(*error);
    nlohmann::json candidate = object;
    clearServerMetadata(candidate);
    // Without a client precondition the write is unconditional, but managedFields were computed
    // from `current`: pin it, and start over if someone wrote in between.
    if (!clientPrecondition)
      candidate["metadata"]["resourceVersion"] = metaString(**current, "resourceVersion");
    recordUpdate(**current, candidate, fieldManagerOf(request), target.subresource,
                 type.apiVersion(), now());
    ApiReply result = commit(request, target, **current, std::move(candidate), 200);
    if (result.response.status != 409 || clientPrecondition || attempt + 1 >= kUpdateAttempts) {
      return result;
    }
  }
}

ApiReply ApiHandler::patch(const ApiRequest& request, const Target& target) {
  auto types = parseMediaTypes(request.header("Content-Type"));
  std::string contentType = types.empty() ? "" : types.front().type;
  const ResourceType& type = *target.type;
  static const char* kAccepted =
      "accepted media types include: application/json-patch+json, application/merge-patch+json, "
      "application/apply-patch+yaml";
  if (contentType == "application/apply-patch+yaml") {
    auto applied = parseYamlBody(request.body);
    if (!applied)
      return reply(
          ApiError::badRequest("the apply configuration is not valid YAML "
                               "or JSON: " +
                               applied.message()));
    return apply(request, target, *applied);
  }
  bool merge = contentType == "application/merge-patch+json";
  bool jsonPatch = contentType == "application/json-patch+json";
  if (!merge && !jsonPatch) {
    return reply(ApiError::unsupportedMediaType(
        "the body of the request was in an unknown format (" +
        (contentType.empty() ? std::string("no Content-Type") : contentType) + ") - " + kAccepted));
  }
  auto parsedPatch = parseJsonBounded(request.body, "the patch");
  if (!parsedPatch) return reply(ApiError::badRequest(parsedPatch.message()));
  nlohmann::json patchBody = std::move(parsedPatch).value();
  if (merge && !patchBody.is_object()) {
    return reply(ApiError::badRequest("a merge patch must be a JSON object"));
  }
  if (jsonPatch && !patchBody.is_array()) {
    return reply(ApiError::badRequest("a JSON patch must be an array of operations"));
  }
  bool patchSetsVersion = merge && patchBody.contains("metadata") &&
                          patchBody["metadata"].is_object() &&
                          patchBody["metadata"].contains("resourceVersion");
  for (int attempt = 0;; ++attempt) {
    auto current = store_.get(ObjectKey{type.kind, *target.ns, target.name});
    if (!current) return reply(fromStoreError(current.status(), type, target.name));
    if (auto error = checkOwnership(target, **current)) return reply(*error);
    nlohmann::json patched = **current;
    if (merge) {
      patched.merge_patch(patchBody);
    } else {
      // Applied in place on the copy, each operation checked first, so that a few bytes of
      // `copy` operations cannot grow the object past what a body could hold.
      JsonPatchBounds bounds;
      bounds.maxObjectBytes = options_.maxBodyBytes;
      if (auto error = applyJsonPatchBounded(patched, patchBody, bounds)) return reply(*error);
    }
    if (!patched.is_object() || metaString(patched, "name") != target.name ||
        metaString(patched, "namespace") != *target.ns || topString(patched, "kind") != type.kind ||
        topString(patched, "apiVersion") != type.apiVersion()) {
      return reply(invalidObject(type, target.name,
                                 {{"FieldValueInvalid",
                                   "apiVersion, kind, metadata.name and metadata.namespace "
                                   "cannot be changed by a patch",
                                   "metadata"}}));
    }
    bool pinned = patchSetsVersion || (jsonPatch && metaString(patched, "resourceVersion") !=
                                                        metaString(**current, "resourceVersion"));
    if (!pinned) patched["metadata"]["resourceVersion"] = metaString(**current, "resourceVersion");
    clearServerMetadata(patched);
    recordUpdate(**current, patched, fieldManagerOf(request), target.subresource, type.apiVersion(),
                 now());
    ApiReply result = commit(request, target, **current, std::move(patched), 200);
    if (result.response.status != 409 || pinned || attempt + 1 >= kUpdateAttempts) return result;
  }
}

ApiReply ApiHandler::apply(const ApiRequest& request, const Target& target,
                           const nlohmann::json& applied) {
  const ResourceType& type = *target.type;
  auto manager = request.param("fieldManager");
  if (!manager || manager->empty()) {
    return reply(
        ApiError::badRequest("PATCH with application/apply-patch+yaml requires the "
                             "fieldManager parameter"));
  }
  if (!applied.is_object()) {
    return reply(ApiError::badRequest("the apply configuration must be an object, got " +
                                      std::string(applied.type_name())));
  }
  if (topString(applied, "apiVersion") != type.apiVersion() ||
      topString(applied, "kind") != type.kind) {
    return reply(ApiError::badRequest("the apply configuration must have apiVersion \"" +
                                      type.apiVersion() + "\" and kind \"" + type.kind + "\""));
  }
  if (metaString(applied, "name") != target.name) {
    return reply(ApiError::badRequest("the name of the object (" + metaString(applied, "name") +
                                      ") does not match the name on the URL (" + target.name +
                                      ")"));
  }
  std::string ns = metaString(applied, "namespace");
  if (!ns.empty() && ns != *target.ns) {
    return reply(ApiError::badRequest("the namespace of the provided object (" + ns +
                                      ") does not match the namespace sent on the request (" +
                                      *target.ns + ")"));
  }
  bool force = request.flag("force");
  for (int attempt = 0;; ++attempt) {
    auto current = store_.get(ObjectKey{type.kind, *target.ns, target.name});
    bool exists = current.isOk();
    if (!exists && current.code() != ErrorCode::kNotFound) {
      return reply(fromStoreError(current.status(), type, target.name));
    }
    if (!exists && target.subresource == "status") {
      return reply(fromStoreError(current.status(), type, target.name));
    }
    nlohmann::json base = exists ? **current : nlohmann::json();
    if (exists) {
      if (auto error = checkOwnership(target, base)) return reply(*error);
    } else if (!options_.allowApiOverride && applied.contains("metadata") &&
               applied["metadata"].contains("annotations") &&
               applied["metadata"]["annotations"].is_object() &&
               applied["metadata"]["annotations"].contains(kManifestFileAnnotation)) {
      return reply(ApiError::forbidden(std::string("the annotation ") + kManifestFileAnnotation +
                                       " is set only by the manifest source"));
    }
    ApplyOutcome outcome = applyConfiguration(base, applied, *manager, force, target.subresource,
                                              type.apiVersion(), now());
    if (!outcome.conflicts.empty()) {
      ApiError error = ApiError::conflict(conflictMessage(outcome.conflicts));
      for (const auto& conflict : outcome.conflicts) {
        error.causes.push_back(
            {"FieldManagerConflict",
             "conflict with \"" + conflict.manager + "\" using " + conflict.apiVersion,
             formatFieldPath(conflict.path)});
      }
      error.name = target.name;
      error.group = type.group;
      error.kind = type.plural;
      return reply(error);
    }
    nlohmann::json object = std::move(outcome.object);
    object["metadata"]["namespace"] = *target.ns;
    object["metadata"]["name"] = target.name;
    if (exists) object["metadata"]["resourceVersion"] = metaString(base, "resourceVersion");
    ApiReply result = commit(request, target, base, std::move(object), exists ? 200 : 201);
    // A concurrent write moved the object (or created it): apply again on the new state.
    bool raced = result.response.status == 409 &&
                 (exists || result.reason == reasonOf(ErrorCode::kAlreadyExists));
    if (!raced || attempt + 1 >= kUpdateAttempts) return result;
  }
}

ApiReply ApiHandler::remove(const ApiRequest& request, const Target& target) {
  const ResourceType& type = *target.type;
  std::optional<std::string> precondition;
  bool dryRun = request.param("dryRun").has_value();
  if (!request.body.empty()) {
    auto parsedOptions = parseJsonBounded(request.body, "the DeleteOptions body");
    if (!parsedOptions) return reply(ApiError::badRequest(parsedOptions.message()));
    nlohmann::json options = std::move(parsedOptions).value();
    if (!options.is_object()) {
      return reply(ApiError::badRequest("the DeleteOptions body is not a JSON object"));
    }
    if (options.contains("preconditions") && options["preconditions"].is_object() &&
        options["preconditions"].contains("resourceVersion") &&
        options["preconditions"]["resourceVersion"].is_string()) {
      precondition = options["preconditions"]["resourceVersion"].get<std::string>();
    }
    if (options.contains("dryRun") && options["dryRun"].is_array() && !options["dryRun"].empty()) {
      dryRun = true;
    }
  }
  ObjectKey key{type.kind, *target.ns, target.name};
  auto current = store_.get(key);
  if (!current) return reply(fromStoreError(current.status(), type, target.name));
  if (auto error = checkOwnership(target, **current)) return reply(*error);
  if (dryRun) return reply(jsonResponse(200, **current));
  auto removed = store_.removeObject(key, precondition);
  if (!removed) return reply(fromStoreError(removed.status(), type, target.name));
  return reply(jsonResponse(200, **removed));
}

}  // namespace siteplane::apiserver

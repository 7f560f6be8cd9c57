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

struct ApiHandler::Mutation {
  // The object to commit: created when guaranteedUpdate found none, otherwise the new state of
  // the one it read. A remove uses only its metadata.resourceVersion, as the precondition.
  nlohmann::json object;
  // The client sent a resourceVersion of its own: the write is checked against that one, and a
  // conflict is the client's to resolve (answered, not retried). Otherwise guaranteedUpdate pins
  // the write to the resourceVersion it read.
  bool clientPrecondition = false;
};

namespace {

// How often guaranteedUpdate reads and tries again when other writes keep coming in between.
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

// The 400 for a body whose metadata.name is not the name on the URL.
std::optional<ApiError> nameMismatch(const nlohmann::json& object, const std::string& name) {
  std::string sent = metadataString(object, "name");
  if (sent == name) return std::nullopt;
  return ApiError::badRequest("the name of the object (" + sent +
                              ") does not match the name on the URL (" + name + ")");
}

// The 400 for a body whose metadata.namespace, when it has one, is not the namespace on the URL.
std::optional<ApiError> namespaceMismatch(const nlohmann::json& object, const std::string& ns) {
  std::string sent = metadataString(object, "namespace");
  if (sent.empty() || sent == ns) return std::nullopt;
  return ApiError::badRequest("the namespace of the provided object (" + sent +
                              ") does not match the namespace sent on the request (" + ns + ")");
}

// Whether `object` carries the annotation only the manifest source sets (with any value).
bool declaresManifestFile(const nlohmann::json& object) {
  return object.contains("metadata") && object["metadata"].contains("annotations") &&
         object["metadata"]["annotations"].is_object() &&
         object["metadata"]["annotations"].contains(kManifestFileAnnotation);
}

// A merge or JSON patch body: 415 for another Content-Type, 400 when it does not parse or is not
// an object (merge) or an array of operations (JSON patch).
std::optional<ApiError> readPatchBody(const ApiRequest& request, const std::string& contentType,
                                      nlohmann::json& patch) {
  static const char* kAccepted =
      "accepted media types include: application/json-patch+json, application/merge-patch+json, "
      "application/apply-patch+yaml";
  bool merge = contentType == "application/merge-patch+json";
  bool jsonPatch = contentType == "application/json-patch+json";
  if (!merge && !jsonPatch) {
    return ApiError::unsupportedMediaType(
        "the body of the request was in an unknown format (" +
        (contentType.empty() ? std::string("no Content-Type") : contentType) + ") - " + kAccepted);
  }
  auto parsed = parseJsonBounded(request.body, "the patch");
  if (!parsed) return ApiError::badRequest(parsed.message());
  patch = std::move(parsed).value();
  if (merge && !patch.is_object()) {
    return ApiError::badRequest("a merge patch must be a JSON object");
  }
  if (jsonPatch && !patch.is_array()) {
    return ApiError::badRequest("a JSON patch must be an array of operations");
  }
  return std::nullopt;
}

// The 422 for a patch that changed what names the object (or left no object).
std::optional<ApiError> identityChanged(const nlohmann::json& patched, const ResourceType& type,
                                        const std::string& name, const std::string& ns) {
  if (patched.is_object() && metadataString(patched, "name") == name &&
      metadataString(patched, "namespace") == ns && stringMember(patched, "kind") == type.kind &&
      stringMember(patched, "apiVersion") == type.apiVersion()) {
    return std::nullopt;
  }
  return invalidObject(type, name,
                       {{"FieldValueInvalid",
                         "apiVersion, kind, metadata.name and metadata.namespace "
                         "cannot be changed by a patch",
                         "metadata"}});
}

// The 400 for a server-side apply configuration that is not an object of the URL's resource.
std::optional<ApiError> checkApplyConfiguration(const nlohmann::json& applied,
                                                const ResourceType& type, const std::string& name,
                                                const std::string& ns) {
  if (!applied.is_object()) {
    return ApiError::badRequest("the apply configuration must be an object, got " +
                                std::string(applied.type_name()));
  }
  if (stringMember(applied, "apiVersion") != type.apiVersion() ||
      stringMember(applied, "kind") != type.kind) {
    return ApiError::badRequest("the apply configuration must have apiVersion \"" +
                                type.apiVersion() + "\" and kind \"" + type.kind + "\"");
  }
  if (auto error = nameMismatch(applied, name)) return error;
  return namespaceMismatch(applied, ns);
}

// The 409 for an apply that sets fields other managers own, one cause per field.
ApiError applyConflicts(const ResourceType& type, const std::string& name,
                        const std::vector<FieldConflict>& conflicts) {
  ApiError error = ApiError::conflict(conflictMessage(conflicts));
  for (const auto& conflict : conflicts) {
    error.causes.push_back(
        {"FieldManagerConflict",
         "conflict with \"" + conflict.manager + "\" using " + conflict.apiVersion,
         formatFieldPath(conflict.path)});
  }
  error.name = name;
  error.group = type.group;
  error.kind = type.plural;
  return error;
}

// A DELETE's optional DeleteOptions body: preconditions.resourceVersion and dryRun.
std::optional<ApiError> readDeleteOptions(const ApiRequest& request,
                                          std::optional<std::string>& precondition, bool& dryRun) {
  if (request.body.empty()) return std::nullopt;
  auto parsed = parseJsonBounded(request.body, "the DeleteOptions body");
  if (!parsed) return ApiError::badRequest(parsed.message());
  const nlohmann::json& options = *parsed;
  if (!options.is_object()) {
    return ApiError::badRequest("the DeleteOptions body is not a JSON object");
  }
  if (options.contains("preconditions") && options["preconditions"].is_object() &&
      options["preconditions"].contains("resourceVersion") &&
      options["preconditions"]["resourceVersion"].is_string()) {
    precondition = options["preconditions"]["resourceVersion"].get<std::string>();
  }
  if (options.contains("dryRun") && options["dryRun"].is_array() && !options["dryRun"].empty()) {
    dryRun = true;
  }
  return std::nullopt;
}

}  // namespace

std::string ApiHandler::now() const { return formatRfc3339(options_.clock->wallNow()); }

ApiReply ApiHandler::guaranteedUpdate(const ApiRequest& request, const Target& target,
                                      WriteKind kind, const Mutate& mutate) {
  const ResourceType& type = *target.type;
  const ObjectKey key{type.kind, *target.ns, target.name};
  // Server-side apply creates what it does not find; a status write never creates.
  const bool mayCreate = kind == WriteKind::kUpsert && target.subresource.empty();
  const nlohmann::json absent;
  for (int attempt = 1;; ++attempt) {
    Result<store::ObjectPtr> read = store_.get(key);
    if (!read && !(mayCreate && read.code() == ErrorCode::kNotFound)) {
      return reply(fromStoreError(read.status(), type, target.name));
    }
    const nlohmann::json& current = read ? **read : absent;
    if (read) {
      if (auto error = checkOwnership(target, current)) return reply(*error);
    }
    Mutation mutation;
    if (auto answer = mutate(current, mutation)) return std::move(*answer);
    // Without a client precondition the write would be unconditional, but the mutation (its
    // managedFields, a patch) was computed from `current`: pin it, and start over if someone
    // wrote in between.
    if (read && !mutation.clientPrecondition) {
      mutation.object["metadata"]["resourceVersion"] = metadataString(current, "resourceVersion");
    }
    Committed written =
        kind == WriteKind::kRemove
            ? commitRemoval(target, metadataString(mutation.object, "resourceVersion"))
            : commit(request, target, current, std::move(mutation.object), read ? 200 : 201);
    // Raced: the object moved on from `current`, or was created after it was found missing.
    bool raced = written.storeError == (read ? ErrorCode::kConflict : ErrorCode::kAlreadyExists);
    if (!raced || mutation.clientPrecondition || attempt >= kUpdateAttempts) {
      return std::move(written.reply);
    }
  }
}

ApiReply ApiHandler::create(const ApiRequest& request, const Target& target) {
  nlohmann::json object;
  if (auto error = readObjectBody(request, *target.type, object)) return reply(*error);
  const ResourceType& type = *target.type;
  if (!object.contains("metadata") || !object["metadata"].is_object()) {
    object["metadata"] = nlohmann::json::object();
  }
  nlohmann::json& metadata = object["metadata"];
  if (auto error = namespaceMismatch(object, *target.ns)) return reply(*error);
  metadata["namespace"] = *target.ns;
  if (metadataString(object, "name").empty() && !metadataString(object, "generateName").empty()) {
    metadata["name"] = metadataString(object, "generateName") + randomSuffix();
  }
  if (!metadataString(object, "resourceVersion").empty()) {
    return reply(
        ApiError::badRequest("metadata.resourceVersion must not be set on an object to "
                             "be created"));
  }
  metadata.erase("resourceVersion");
  clearServerMetadata(object);
  Target named = target;
  named.name = metadataString(object, "name");
  if (!options_.allowApiOverride && declaresManifestFile(object)) {
    return reply(ApiError::forbidden(
        std::string("the annotation ") + kManifestFileAnnotation +
        " is set only by the manifest source; objects created through the API are owned by "
        "their field manager (run siteplane serve with --allow-api-override to allow it)"));
  }
  recordUpdate(nlohmann::json(), object, fieldManagerOf(request), "", type.apiVersion(), now());
  return commit(request, named, nlohmann::json(), std::move(object), 201).reply;
}

ApiReply ApiHandler::update(const ApiRequest& request, const Target& target) {
  nlohmann::json object;
  if (auto error = readObjectBody(request, *target.type, object)) return reply(*error);
  if (auto error = nameMismatch(object, target.name)) return reply(*error);
  if (auto error = namespaceMismatch(object, *target.ns)) return reply(*error);
  object["metadata"]["namespace"] = *target.ns;
  const bool clientPrecondition = !metadataString(object, "resourceVersion").empty();
  return guaranteedUpdate(
      request, target, WriteKind::kUpdate,
      [&](const nlohmann::json& current, Mutation& mutation) -> std::optional<ApiReply> {
        mutation.object = object;
        mutation.clientPrecondition = clientPrecondition;
        clearServerMetadata(mutation.object);
        recordUpdate(current, mutation.object, fieldManagerOf(request), target.subresource,
                     target.type->apiVersion(), now());
        return std::nullopt;
      });
}

ApiReply ApiHandler::patch(const ApiRequest& request, const Target& target) {
  auto types = parseMediaTypes(request.header("Content-Type"));
  std::string contentType = types.empty() ? "" : types.front().type;
  if (contentType == "application/apply-patch+yaml") {
    auto applied = parseYamlBody(request.body);
    if (!applied)
      return reply(
          ApiError::badRequest("the apply configuration is not valid YAML "
                               "or JSON: " +
                               applied.message()));
    return apply(request, target, *applied);
  }
  nlohmann::json patchBody;
  if (auto error = readPatchBody(request, contentType, patchBody)) return reply(*error);
  const bool merge = contentType == "application/merge-patch+json";
  const bool patchSetsVersion = merge && patchBody.contains("metadata") &&
                                patchBody["metadata"].is_object() &&
                                patchBody["metadata"].contains("resourceVersion");
  return guaranteedUpdate(
      request, target, WriteKind::kUpdate,
      [&](const nlohmann::json& current, Mutation& mutation) -> std::optional<ApiReply> {
        nlohmann::json& patched = mutation.object = current;
        if (merge) {
          patched.merge_patch(patchBody);
        } else {
          // Applied in place on the copy, each operation checked first, so that a few bytes of
          // `copy` operations cannot grow the object past what a body could hold.
          JsonPatchBounds bounds;
          bounds.maxObjectBytes = options_.maxBodyBytes;
          if (auto error = applyJsonPatchBounded(patched, patchBody, bounds)) return reply(*error);
        }
        if (auto error = identityChanged(patched, *target.type, target.name, *target.ns)) {
          return reply(*error);
        }
        mutation.clientPrecondition =
            patchSetsVersion || (!merge && metadataString(patched, "resourceVersion") !=
                                               metadataString(current, "resourceVersion"));
        clearServerMetadata(patched);
        recordUpdate(current, patched, fieldManagerOf(request), target.subresource,
                     target.type->apiVersion(), now());
        return std::nullopt;
      });
}

ApiReply ApiHandler::apply(const ApiRequest& request, const Target& target,
                           const nlohmann::json& applied) {
  auto manager = request.param("fieldManager");
  if (!manager || manager->empty()) {
    return reply(
        ApiError::badRequest("PATCH with application/apply-patch+yaml requires the "
                             "fieldManager parameter"));
  }
  if (auto error = checkApplyConfiguration(applied, *target.type, target.name, *target.ns)) {
    return reply(*error);
  }
  const bool force = request.flag("force");
  return guaranteedUpdate(
      request, target, WriteKind::kUpsert,
      [&](const nlohmann::json& current, Mutation& mutation) -> std::optional<ApiReply> {
        if (current.is_null() && !options_.allowApiOverride && declaresManifestFile(applied)) {
          return reply(ApiError::forbidden(std::string("the annotation ") +
                                           kManifestFileAnnotation +
                                           " is set only by the manifest source"));
        }
        ApplyOutcome outcome =
            applyConfiguration(current, applied, *manager, force, target.subresource,
                               target.type->apiVersion(), now());
        if (!outcome.conflicts.empty()) {
          return reply(applyConflicts(*target.type, target.name, outcome.conflicts));
        }
        mutation.object = std::move(outcome.object);
        mutation.object["metadata"]["namespace"] = *target.ns;
        mutation.object["metadata"]["name"] = target.name;
        return std::nullopt;
      });
}

ApiReply ApiHandler::remove(const ApiRequest& request, const Target& target) {
  std::optional<std::string> precondition;
  bool dryRun = request.param("dryRun").has_value();
  if (auto error = readDeleteOptions(request, precondition, dryRun)) return reply(*error);
  return guaranteedUpdate(
      request, target, WriteKind::kRemove,
      [&](const nlohmann::json& current, Mutation& mutation) -> std::optional<ApiReply> {
        if (dryRun) return reply(jsonResponse(200, current));
        if (precondition && !precondition->empty()) {
          mutation.object["metadata"]["resourceVersion"] = *precondition;
          mutation.clientPrecondition = true;
        }
        return std::nullopt;
      });
}

}  // namespace siteplane::apiserver

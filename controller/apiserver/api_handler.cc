#include "controller/apiserver/api_handler.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "common/logging.h"
#include "controller/api/object_codec.h"
#include "controller/api/object_meta.h"
#include "controller/apiserver/discovery.h"
#include "controller/apiserver/field_manager.h"
#include "controller/apiserver/field_selector.h"
#include "controller/apiserver/json_bounds.h"
#include "controller/apiserver/table_converter.h"
#include "controller/apiserver/yaml_body.h"
#include "controller/store/object_key.h"

namespace siteplane::apiserver {

struct ApiHandler::Target {
  const ResourceType* type = nullptr;
  std::optional<std::string> ns;  // set when the URL names a namespace
  std::string name;               // empty for the collection
  std::string subresource;        // "" or "status"
};

struct ApiHandler::Output {
  enum class Form { kObject, kTable, kPartialMetadata } form = Form::kObject;
};

namespace {

constexpr int kUpdateAttempts = 5;
constexpr const char* kTableContentType = "application/json;as=Table;v=v1;g=meta.k8s.io";

std::shared_ptr<spdlog::logger> log() { return logger("controller.apiserver"); }

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> segments;
  std::stringstream stream(path);
  std::string segment;
  while (std::getline(stream, segment, '/')) {
    if (!segment.empty()) segments.push_back(segment);
  }
  return segments;
}

ApiResponse jsonResponse(int status, const nlohmann::json& body,
                         std::string contentType = "application/json") {
  ApiResponse response;
  response.status = status;
  response.contentType = std::move(contentType);
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

ApiReply reply(ApiResponse response) { return ApiReply{std::move(response), nullptr, ""}; }
ApiReply reply(const ApiError& error) {
  return ApiReply{error.toResponse(), nullptr, error.reason};
}

ApiResponse textResponse(int status, std::string body) {
  ApiResponse response;
  response.status = status;
  response.contentType = "text/plain; charset=utf-8";
  response.body = std::move(body);
  return response;
}

// A top-level string field, "" when it is absent or not a string: nlohmann's value() throws for a
// field that is present with another type ({"kind": null}), which a client's body may be.
std::string topString(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return "";
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string metaString(const nlohmann::json& object, const char* field) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  const auto& metadata = object["metadata"];
  auto it = metadata.find(field);
  return it != metadata.end() && it->is_string() ? it->get<std::string>() : "";
}

// The Kubernetes wording for an error about one object: `bindings.siteplane.io "web"`.
std::string qualified(const ResourceType& type, const std::string& name) {
  return type.groupResource() + " \"" + name + "\"";
}

// How Kubernetes names a kind in an Invalid message: "Binding.siteplane.io", "Event" (core).
std::string qualifiedKind(const ResourceType& type) {
  return type.group.empty() ? type.kind : type.kind + "." + type.group;
}

// The answer to a failed store operation on `name`, in Kubernetes' wording; the HTTP status and
// reason follow from the code (httpStatusOf, reasonOf).
ApiError fromStoreError(const Status& error, const ResourceType& type, const std::string& name) {
  ErrorCode code = error.code();
  std::string message;
  switch (code) {
    case ErrorCode::kNotFound:
      message = qualified(type, name) + " not found";
      break;
    case ErrorCode::kAlreadyExists:
      message = qualified(type, name) + " already exists";
      break;
    case ErrorCode::kConflict:
      message = "Operation cannot be fulfilled on " + qualified(type, name) +
                ": the object has been modified; please apply your changes to the latest version "
                "and try again (" +
                error.message() + ")";
      break;
    case ErrorCode::kInvalid: {
      // The store names the object itself ("Event \"x\" is invalid: ..."); say it once.
      std::string detail = error.message();
      std::string prefix = type.kind + " \"" + name + "\" is invalid: ";
      if (detail.rfind(prefix, 0) == 0) detail = detail.substr(prefix.size());
      message = qualifiedKind(type) + " \"" + name + "\" is invalid: " + detail;
      break;
    }
    case ErrorCode::kExpired:
      message = "too old resource version: " + error.message();
      break;
    default:
      // kInternal, and any code the store does not report: the write did not happen.
      code = ErrorCode::kInternal;
      message = "storing " + qualified(type, name) + " failed: " + error.message();
      break;
  }
  ApiError out = ApiError::fromCode(code, std::move(message));
  out.name = name;
  out.group = type.group;
  out.kind = type.plural;
  return out;
}

// A query parameter that must be a whole non-negative decimal number; nullopt otherwise.
std::optional<long long> nonNegative(const std::string& text) {
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// Which apidiscovery.k8s.io version the client accepts, if it asked for aggregated discovery.
std::string aggregatedDiscoveryVersion(const ApiRequest& request) {
  for (const auto& media : parseMediaTypes(request.header("Accept"))) {
    if (media.param("g") == "apidiscovery.k8s.io" && media.param("as") == "APIGroupDiscoveryList" &&
        (media.param("v") == "v2" || media.param("v") == "v2beta1")) {
      return media.param("v");
    }
  }
  return "";
}

bool acceptsJson(const std::string& accept) {
  if (accept.empty()) return true;
  for (const auto& media : parseMediaTypes(accept)) {
    if (media.type == "application/json" || media.type == "*/*" || media.type == "application/*") {
      return true;
    }
  }
  return false;
}

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

// Kubernetes' wording for an invalid object, with every field path:
//   Binding.siteplane.io "web" is invalid: [spec.port: Invalid value: ..., spec.siteRef: ...]
ApiError invalidObject(const ResourceType& type, const std::string& name,
                       std::vector<StatusCause> causes) {
  std::string joined;
  for (const auto& cause : causes) {
    if (!joined.empty()) joined += ", ";
    joined += cause.field.empty() ? cause.message : cause.field + ": " + cause.message;
  }
  if (causes.size() > 1) joined = "[" + joined + "]";
  ApiError error = ApiError::invalid(
      qualifiedKind(type) + " \"" + name + "\" is invalid: " + joined, std::move(causes));
  error.name = name;
  error.group = type.group;
  error.kind = type.kind;
  return error;
}

// Server-set metadata a client may echo back from a GET but never sets.
void clearServerMetadata(nlohmann::json& object) {
  if (!object.contains("metadata") || !object["metadata"].is_object()) return;
  for (const char* field : {"uid", "creationTimestamp", "generation", "managedFields", "selfLink",
                            "deletionTimestamp"}) {
    object["metadata"].erase(field);
  }
}

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

ApiHandler::ApiHandler(store::Store& store, ResourceRegistry registry, ApiHandlerOptions options)
    : store_(store),
      registry_(std::move(registry)),
      options_(std::move(options)),
      openApi_(registry_),
      openApiV2_(openApi_) {}

std::string ApiHandler::now() const { return formatRfc3339(options_.clock->wallNow()); }

void ApiHandler::count(const std::string& verb, int code) {
  std::lock_guard lock(metricsMutex_);
  ++requests_[{verb, code}];
}

ApiReply ApiHandler::handle(const ApiRequest& request) {
  std::string verb = "unknown";
  ApiReply result;
  try {
    result = route(request, verb);
  } catch (const std::exception& error) {
    // Nothing above should throw; if something does, the client gets a 500, never a crash.
    log()->error("request_failed method={} path={} error=\"{}\"", request.method, request.path,
                 error.what());
    result = reply(ApiError::internal(std::string("internal error: ") + error.what()));
  }
  logOutcome(request, verb, result.response.status, result.response);
  return result;
}

std::optional<ApiReply> ApiHandler::refuseBeforeBody(const ApiRequest& head) {
  std::optional<ApiReply> refused = authenticate(head);
  if (refused) logOutcome(head, "unauthorized", refused->response.status, refused->response);
  return refused;
}

void ApiHandler::logOutcome(const ApiRequest& request, const std::string& verb, int code,
                            const ApiResponse& response) {
  count(verb, code);
  if (code == 401) {
    log()->warn("unauthorized method={} path={} remote={}", request.method, request.path,
                request.remoteAddress);
  } else if (code >= 500 && verb != "health") {
    log()->error("request method={} path={} code={} body={}", request.method, request.path, code,
                 response.body);
  } else {
    log()->debug("request method={} path={} verb={} code={}", request.method, request.path, verb,
                 code);
  }
}

std::optional<ApiReply> ApiHandler::authenticate(const ApiRequest& request) const {
  if (options_.token.empty()) return std::nullopt;
  const std::vector<std::string> segments = splitPath(request.path);
  const std::string first = segments.empty() ? "" : segments[0];
  // Probes and the version are open (Kubernetes' system:public-info-viewer); all else needs the
  // token.
  if (first == "healthz" || first == "livez" || first == "readyz" || first == "version") {
    return std::nullopt;
  }
  std::string header = request.header("Authorization");
  const std::string prefix = "Bearer ";
  bool valid = header.size() == prefix.size() + options_.token.size() &&
               header.compare(0, prefix.size(), prefix) == 0 &&
               CRYPTO_memcmp(header.data() + prefix.size(), options_.token.data(),
                             options_.token.size()) == 0;
  if (valid) return std::nullopt;
  return reply(ApiError::unauthorized(header.empty() ? "Unauthorized: no bearer token"
                                                     : "Unauthorized: invalid bearer token"));
}

ApiReply ApiHandler::route(const ApiRequest& request, std::string& verb) {
  const std::vector<std::string> segments = splitPath(request.path);
  const std::string first = segments.empty() ? "" : segments[0];

  if (auto refused = authenticate(request)) {
    verb = "unauthorized";
    return std::move(*refused);
  }
  if (request.body.size() > options_.maxBodyBytes) {
    verb = "toolarge";
    return reply(ApiError::requestEntityTooLarge(
        "the request body is " + std::to_string(request.body.size()) + " bytes; the limit is " +
        std::to_string(options_.maxBodyBytes)));
  }

  bool isGet = request.method == "GET" || request.method == "HEAD";
  if (first == "healthz" || first == "livez") {
    verb = "health";
    return reply(textResponse(200, "ok"));
  }
  if (first == "readyz") {
    verb = "health";
    return reply(readyResponse(request));
  }
  if (first == "metrics") {
    verb = "metrics";
    return reply(metricsResponse());
  }
  if (first == "runtime") {
    verb = "runtime";
    return runtime(request, segments);
  }
  if (first == "version") {
    verb = "version";
    return reply(jsonResponse(200, {{"major", "1"},
                                    {"minor", "32"},
                                    {"gitVersion", "v1.32.0+siteplane." + options_.version},
                                    {"gitCommit", ""},
                                    {"gitTreeState", "clean"},
                                    {"buildDate", ""},
                                    {"goVersion", ""},
                                    {"compiler", "gcc"},
                                    {"platform", "linux/amd64"}}));
  }
  if (first == "swagger-2.0.0.pb-v1" && segments.size() == 1) {
    verb = "openapi";
    if (!isGet) return reply(ApiError::methodNotAllowed(request.method + " is not supported"));
    return reply(openApiV2_.respond(request, true));
  }
  if (first == "openapi") {
    verb = "openapi";
    if (!isGet) return reply(ApiError::methodNotAllowed(request.method + " is not supported"));
    if (segments.size() == 2 && segments[1] == "v3")
      return reply(jsonResponse(200, openApi_.index()));
    if (segments.size() == 2 && segments[1] == "v2")
      return reply(openApiV2_.respond(request, false));
    if (segments.size() > 2 && segments[1] == "v3") {
      std::string key;
      for (size_t i = 2; i < segments.size(); ++i) key += (i > 2 ? "/" : "") + segments[i];
      if (const nlohmann::json* document = openApi_.document(key)) {
        return reply(jsonResponse(200, *document));
      }
    }
    return reply(ApiError::notFound("no OpenAPI document at " + request.path));
  }

  bool core = first == "api";
  if (!core && first != "apis") {
    verb = "notfound";
    return reply(ApiError::notFound("the server could not find the requested resource (" +
                                    request.path + ")"));
  }
  // Discovery: /api, /apis, /apis/{group}, /apis/{group}/{version}, /api/{version}.
  size_t groupVersionEnd = core ? 2 : 3;
  if (segments.size() <= groupVersionEnd) {
    verb = "discovery";
    if (!isGet) return reply(ApiError::methodNotAllowed(request.method + " is not supported"));
    nlohmann::json document;
    if (segments.size() == 1) {
      std::string aggregated = aggregatedDiscoveryVersion(request);
      if (!aggregated.empty()) {
        return reply(jsonResponse(200, aggregatedDiscovery(registry_, core, aggregated),
                                  "application/json;g=apidiscovery.k8s.io;v=" + aggregated +
                                      ";as=APIGroupDiscoveryList"));
      }
      document = core ? apiVersions(registry_) : apiGroupList(registry_);
    } else if (core) {
      document = apiResourceList(registry_, "", segments[1]);
    } else if (segments.size() == 2) {
      document = apiGroup(registry_, segments[1]);
    } else {
      document = apiResourceList(registry_, segments[1], segments[2]);
    }
    if (document.is_null()) {
      return reply(ApiError::notFound("the server could not find the requested resource (" +
                                      request.path + ")"));
    }
    return reply(jsonResponse(200, document));
  }

  // Resources: {gv}/{plural} or {gv}/namespaces/{ns}/{plural}[/{name}[/status]].
  std::string group = core ? "" : segments[1];
  std::string version = core ? segments[1] : segments[2];
  std::vector<std::string> rest(segments.begin() + static_cast<long>(groupVersionEnd),
                                segments.end());
  Target target;
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    target.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (!rest.empty()) target.type = registry_.findByPlural(group, version, rest[0]);
  if (!target.type || rest.size() > 3 ||
      (target.type->namespaced && !target.ns && rest.size() > 1)) {
    verb = "notfound";
    return reply(ApiError::notFound("the server could not find the requested resource (" +
                                    request.path + ")"));
  }
  if (rest.size() >= 2) target.name = rest[1];
  if (rest.size() == 3) {
    if (rest[2] != "status" || !target.type->statusSubresource) {
      verb = "notfound";
      return reply(ApiError::notFound("the server could not find the requested resource (" +
                                      request.path + ")"));
    }
    target.subresource = "status";
  }
  return serveResource(request, target, verb);
}

ApiReply ApiHandler::serveResource(const ApiRequest& request, const Target& target,
                                   std::string& verb) {
  const std::string& method = request.method;
  Output output;
  std::string accept = request.header("Accept");
  bool jsonOk = acceptsJson(accept);
  for (const auto& media : parseMediaTypes(accept)) {
    std::string as = media.param("as");
    if (media.param("g") != "meta.k8s.io" || as.empty()) continue;
    if (as == "Table") {
      output.form = Output::Form::kTable;
      break;
    }
    if (as == "PartialObjectMetadata" || as == "PartialObjectMetadataList") {
      output.form = Output::Form::kPartialMetadata;
      break;
    }
  }
  if (output.form == Output::Form::kObject && !jsonOk) {
    return reply(
        ApiError::notAcceptable("only application/json (optionally as=Table) is served, "
                                "not \"" +
                                accept + "\""));
  }

  if (target.name.empty()) {
    if (method == "GET") {
      if (request.flag("watch")) {
        verb = "watch";
        return watch(request, target, output);
      }
      verb = "list";
      return list(request, target, output);
    }
    if (method == "POST" && target.ns) {
      verb = "create";
      return create(request, target);
    }
    verb = "unsupported";
    return reply(ApiError::methodNotAllowed(method + " is not supported on " + request.path));
  }
  if (method == "GET") {
    verb = "get";
    return get(target, output);
  }
  if (method == "PUT") {
    verb = "update";
    return update(request, target);
  }
  if (method == "PATCH") {
    verb = "patch";
    return patch(request, target);
  }
  if (method == "DELETE" && target.subresource.empty()) {
    verb = "delete";
    return remove(request, target);
  }
  verb = "unsupported";
  return reply(ApiError::methodNotAllowed(method + " is not supported on " + request.path));
}

namespace {

// The parser's message names the byte offset and what it expected; nesting is bounded
// (json_bounds.h) before the value is built.
Result<nlohmann::json> parseJson(const std::string& text, const std::string& what) {
  return parseJsonBounded(text, what);
}

// Parses a request body by its Content-Type: JSON or YAML.
Result<nlohmann::json> parseBody(const ApiRequest& request) {
  auto types = parseMediaTypes(request.header("Content-Type"));
  std::string type = types.empty() ? "application/json" : types.front().type;
  if (request.body.empty()) return Result<nlohmann::json>::error("the request body is empty");
  if (type == "application/json") {
    return parseJson(request.body, "the body");
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

// The object a create or update sends: a JSON object whose apiVersion and kind, when given, are
// those of the URL's resource (filled in when left out). Returns the error to answer otherwise.
std::optional<ApiError> readObjectBody(const ApiRequest& request, const ResourceType& type,
                                       nlohmann::json& object);

// A body in a format the server does not read is 415; one that does not parse is 400.
ApiError bodyError(const Status& status) {
  if (status.code() == ErrorCode::kUnsupportedMediaType) {
    return ApiError::unsupportedMediaType(status.message());
  }
  return ApiError::badRequest(status.message());
}

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

ApiReply ApiHandler::get(const Target& target, const Output& output) {
  auto object = store_.get(store::ObjectKey{target.type->kind, *target.ns, target.name});
  if (!object) return reply(fromStoreError(object.status(), *target.type, target.name));
  const nlohmann::json& value = **object;
  if (output.form == Output::Form::kTable) {
    TableConverter converter(*target.type, options_.clock->wallNow());
    return reply(jsonResponse(200, converter.table({value}, metaString(value, "resourceVersion")),
                              kTableContentType));
  }
  if (output.form == Output::Form::kPartialMetadata) {
    return reply(jsonResponse(200, {{"kind", "PartialObjectMetadata"},
                                    {"apiVersion", "meta.k8s.io/v1"},
                                    {"metadata", value["metadata"]}}));
  }
  return reply(jsonResponse(200, value));
}

ApiReply ApiHandler::list(const ApiRequest& request, const Target& target, const Output& output) {
  store::ListOptions options;
  options.kind = target.type->kind;
  options.ns = target.ns;
  std::string labelText = request.param("labelSelector").value_or("");
  if (!labelText.empty()) {
    auto parsed = store::LabelSelector::parse(labelText);
    if (!parsed) return reply(ApiError::badRequest("labelSelector: " + parsed.message()));
    options.selector = std::move(parsed).value();
  }
  FieldSelector fields;
  std::string fieldText = request.param("fieldSelector").value_or("");
  if (!fieldText.empty()) {
    auto parsed = FieldSelector::parse(fieldText);
    if (!parsed) return reply(ApiError::badRequest(parsed.message()));
    fields = std::move(parsed).value();
  }
  size_t limit = 0;
  if (auto text = request.param("limit"); text && !text->empty()) {
    auto value = nonNegative(*text);
    if (!value) {
      return reply(ApiError::badRequest("limit: \"" + *text + "\" is not a non-negative integer"));
    }
    limit = static_cast<size_t>(*value);
  }
  // A continue token is good only for the list that issued it.
  std::string query = target.type->groupResource() + " namespace=" + target.ns.value_or("") +
                      " labelSelector=" + labelText + " fieldSelector=" + fieldText;
  ListPage page;
  if (std::string token = request.param("continue").value_or(""); !token.empty()) {
    if (!request.param("resourceVersion").value_or("").empty()) {
      return reply(
          ApiError::badRequest("specifying resourceVersion is not allowed when using continue"));
    }
    if (auto error = pager_.next(token, query, limit, page, options_.clock->now()))
      return reply(*error);
  } else {
    store::ObjectList objects = store_.list(options);
    std::vector<store::ObjectPtr> matching;
    for (auto& object : objects.items) {
      if (fields.matches(*object)) matching.push_back(std::move(object));
    }
    page = pager_.first(std::move(matching), objects.resourceVersion, query, limit,
                        options_.clock->now());
  }
  std::vector<nlohmann::json> items;
  items.reserve(page.items.size());
  for (const auto& object : page.items) items.push_back(*object);
  nlohmann::json listMeta = {
      {"resourceVersion", store::formatResourceVersion(page.resourceVersion)}};
  if (!page.continueToken.empty()) {
    listMeta["continue"] = page.continueToken;
    listMeta["remainingItemCount"] = page.remainingItemCount;
  }
  if (output.form == Output::Form::kTable) {
    TableConverter converter(*target.type, options_.clock->wallNow());
    nlohmann::json table = converter.table(items, listMeta["resourceVersion"].get<std::string>());
    table["metadata"] = listMeta;
    return reply(jsonResponse(200, table, kTableContentType));
  }
  if (output.form == Output::Form::kPartialMetadata) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : items) {
      list.push_back({{"kind", "PartialObjectMetadata"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", item["metadata"]}});
    }
    return reply(jsonResponse(200, {{"kind", "PartialObjectMetadataList"},
                                    {"apiVersion", "meta.k8s.io/v1"},
                                    {"metadata", listMeta},
                                    {"items", list}}));
  }
  return reply(jsonResponse(200, {{"apiVersion", target.type->apiVersion()},
                                  {"kind", target.type->listKind},
                                  {"metadata", listMeta},
                                  {"items", items}}));
}

namespace {

// How long a watch runs. Without timeoutSeconds, Kubernetes picks 30 to 60 minutes at random
// (--min-request-timeout), so that the watches of many clients do not all end and reconnect at
// once and a vanished client's watch does not live forever; so does siteplane. A requested
// timeout is capped at a day, far beyond what clients ask for and far from overflowing a timer.
std::chrono::seconds watchTimeout(long long requestedSeconds) {
  constexpr long long kMinRequestTimeout = 1800;
  constexpr long long kMaxTimeout = 24 * 3600;
  if (requestedSeconds > 0) return std::chrono::seconds(std::min(requestedSeconds, kMaxTimeout));
  thread_local std::mt19937_64 random(std::random_device{}());
  std::uniform_int_distribution<long long> spread(kMinRequestTimeout, 2 * kMinRequestTimeout);
  return std::chrono::seconds(spread(random));
}

}  // namespace

ApiReply ApiHandler::watch(const ApiRequest& request, const Target& target, const Output& output) {
  store::LabelSelector labels;
  if (auto selector = request.param("labelSelector"); selector && !selector->empty()) {
    auto parsed = store::LabelSelector::parse(*selector);
    if (!parsed) return reply(ApiError::badRequest("labelSelector: " + parsed.message()));
    labels = std::move(parsed).value();
  }
  FieldSelector fields;
  if (auto selector = request.param("fieldSelector"); selector && !selector->empty()) {
    auto parsed = FieldSelector::parse(*selector);
    if (!parsed) return reply(ApiError::badRequest(parsed.message()));
    fields = std::move(parsed).value();
  }
  long long timeoutSeconds = 0;
  if (auto timeout = request.param("timeoutSeconds"); timeout && !timeout->empty()) {
    auto value = nonNegative(*timeout);
    if (!value) {
      return reply(ApiError::badRequest("timeoutSeconds: \"" + *timeout +
                                        "\" is not a non-negative number of seconds"));
    }
    timeoutSeconds = *value;
  }

  // Everything the callback needs is captured by value: it runs on store threads and may
  // outlive this call.
  struct Encoder {
    ResourceType type;
    std::optional<std::string> ns;
    store::LabelSelector labels;
    FieldSelector fields;
    bool table = false;
    const Clock* clock = nullptr;  // the handler's
    bool headersSent = false;      // touched only by the thread delivering events (one at a time)

    // Objects the client currently sees as matching the selectors (namespace/name): a change
    // that makes one stop matching is a DELETED for this watch, one that makes it start
    // matching an ADDED, as Kubernetes reports them.
    std::set<std::string> visible;

    std::optional<std::string> encode(const char* type, const nlohmann::json& object) {
      if (topString(object, "kind") != this->type.kind) return std::nullopt;
      if (ns && metaString(object, "namespace") != *ns) return std::nullopt;
      std::string key = metaString(object, "namespace") + "/" + metaString(object, "name");
      bool matches = labels.matchesObject(object) && fields.matches(object);
      bool deleted = std::string_view(type) == "DELETED";
      bool seen = visible.count(key) > 0;
      if (!matches && !seen) return std::nullopt;
      if (!matches || deleted) {
        visible.erase(key);
        type = "DELETED";
      } else {
        if (!seen) type = "ADDED";
        visible.insert(key);
      }
      nlohmann::json event = {{"type", type}};
      if (table) {
        // Like Kubernetes, only the first event carries the column definitions.
        TableConverter converter(this->type, clock->wallNow());
        event["object"] =
            converter.table({object}, metaString(object, "resourceVersion"), !headersSent);
        headersSent = true;
      } else {
        event["object"] = object;
      }
      return event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
  };
  auto encoder = std::make_shared<Encoder>();
  encoder->type = *target.type;
  encoder->ns = target.ns;
  encoder->labels = labels;
  encoder->fields = fields;
  encoder->table = output.form == Output::Form::kTable;
  encoder->clock = options_.clock;

  auto stream = std::make_shared<WatchStream>(watchTimeout(timeoutSeconds));
  uint64_t from = 0;
  std::string resourceVersion = request.param("resourceVersion").value_or("");
  if (resourceVersion.empty() || resourceVersion == "0") {
    // No starting point: the current state as synthetic ADDED events, then every change.
    store::ListOptions options;
    options.kind = target.type->kind;
    options.ns = target.ns;
    options.selector = labels;
    store::ObjectList current = store_.list(options);
    for (const auto& object : current.items) {
      if (auto chunk = encoder->encode("ADDED", *object)) stream->push(std::move(*chunk));
    }
    from = current.resourceVersion;
  } else {
    auto parsed = store::parseResourceVersion(resourceVersion);
    if (!parsed) return reply(ApiError::badRequest("resourceVersion: " + parsed.message()));
    from = *parsed;
    // The client listed at `from`; what matches now is the best estimate of what it saw, so a
    // later change that makes one of those stop matching reports DELETED.
    store::ListOptions options;
    options.kind = target.type->kind;
    options.ns = target.ns;
    options.selector = labels;
    for (const auto& object : store_.list(options).items) {
      if (fields.matches(*object)) {
        encoder->visible.insert(metaString(*object, "namespace") + "/" +
                                metaString(*object, "name"));
      }
    }
  }
  if (request.flag("allowWatchBookmarks")) {
    nlohmann::json object = {{"apiVersion", target.type->apiVersion()},
                             {"kind", target.type->kind}};
    if (output.form == Output::Form::kTable) {
      object = {{"apiVersion", "meta.k8s.io/v1"},
                {"kind", "Table"},
                {"columnDefinitions", nlohmann::json::array()},
                {"rows", nlohmann::json::array()}};
    } else if (output.form == Output::Form::kPartialMetadata) {
      object = {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "PartialObjectMetadata"}};
    }
    stream->enableBookmarks(
        [object](uint64_t resourceVersion) {
          nlohmann::json event = {{"type", "BOOKMARK"}, {"object", object}};
          event["object"]["metadata"] = {
              {"resourceVersion", store::formatResourceVersion(resourceVersion)}};
          return event.dump() + "\n";
        },
        from);
  }
  std::weak_ptr<WatchStream> weak = stream;
  auto subscription = store_.watch(from, [weak, encoder](const store::WatchEvent& event) {
    auto stream = weak.lock();
    if (!stream) return;
    // Runs on a store thread: nothing may escape it.
    try {
      auto chunk = encoder->encode(store::toString(event.type), *event.object);
      // An event that does not match still moves the stream's resourceVersion (bookmarks).
      stream->push(chunk ? std::move(*chunk) : std::string(), event.resourceVersion);
    } catch (const std::exception& error) {
      log()->error("watch_event_dropped kind={} error=\"{}\"", event.key.kind, error.what());
    }
  });
  if (!subscription) return reply(fromStoreError(subscription.status(), *target.type, ""));
  stream->adopt(std::move(subscription).value());
  ApiResponse head;
  head.status = 200;
  head.contentType = "application/json";
  return ApiReply{std::move(head), stream, ""};
}

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
  std::string name = metaString(object, "name");
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

ApiReply ApiHandler::commit(const ApiRequest& request, const Target& target,
                            const nlohmann::json& current, nlohmann::json object, int successCode) {
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
  ApiReply result = commitValidated(request, target, current, std::move(object), successCode);
  if (fieldValidation == "Warn") {
    for (const auto& warning : warnings) {
      nlohmann::json quoted = warning;
      result.response.headers.emplace_back("Warning", "299 - " + quoted.dump());
    }
  }
  return result;
}

ApiReply ApiHandler::commitValidated(const ApiRequest& request, const Target& target,
                                     const nlohmann::json& current, nlohmann::json object,
                                     int successCode) {
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
  if (!stored) return reply(fromStoreError(stored.status(), *target.type, target.name));
  return reply(jsonResponse(successCode, **stored));
}

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
    auto current = store_.get(store::ObjectKey{type.kind, *target.ns, target.name});
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
  auto parsedPatch = parseJson(request.body, "the patch");
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
    auto current = store_.get(store::ObjectKey{type.kind, *target.ns, target.name});
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
    auto current = store_.get(store::ObjectKey{type.kind, *target.ns, target.name});
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
  store::ObjectKey key{type.kind, *target.ns, target.name};
  auto current = store_.get(key);
  if (!current) return reply(fromStoreError(current.status(), type, target.name));
  if (auto error = checkOwnership(target, **current)) return reply(*error);
  if (dryRun) return reply(jsonResponse(200, **current));
  auto removed = store_.removeObject(key, precondition);
  if (!removed) return reply(fromStoreError(removed.status(), type, target.name));
  return reply(jsonResponse(200, **removed));
}

ApiResponse ApiHandler::readyResponse(const ApiRequest& request) const {
  // Kubernetes' format: one "[+]name ok" / "[-]name failed: reason" line per check, then the
  // verdict; a passing /readyz says only "ok" unless ?verbose asks for the list.
  std::string lines;
  bool ready = true;
  for (const auto& check : options_.readyChecks) {
    std::string failure = check.check ? check.check() : std::string();
    if (failure.empty()) {
      lines += "[+]" + check.name + " ok\n";
    } else {
      ready = false;
      lines += "[-]" + check.name + " failed: " + failure + "\n";
    }
  }
  if (!ready) return textResponse(500, lines + "readyz check failed\n");
  if (request.param("verbose")) return textResponse(200, lines + "readyz check passed\n");
  return textResponse(200, "ok");
}

ApiReply ApiHandler::runtime(const ApiRequest& request, const std::vector<std::string>& segments) {
  if (request.method != "GET" && request.method != "HEAD")
    return reply(
        ApiError::methodNotAllowed(request.method + " is not supported on " + request.path));
  const std::string name = segments.size() == 2 ? segments[1] : "";
  const RuntimeView::View* view = name == "sslcert"   ? &options_.runtime.sslcert
                                  : name == "explain" ? &options_.runtime.explain
                                                      : nullptr;
  if (view && *view) {
    auto answer = (*view)(request.query);
    if (!answer) return reply(ApiError::badRequest(answer.message()));
    return reply(jsonResponse(200, *answer));
  }
  return reply(ApiError::notFound("the server could not find the requested resource (" +
                                  request.path +
                                  "); /runtime serves sslcert and explain when a "
                                  "data plane runs"));
}

ApiResponse ApiHandler::metricsResponse() {
  metrics::ExpositionWriter out;
  Status written = out.declare("siteplane_api_requests_total", metrics::MetricType::kCounter,
                               "API requests by verb and HTTP status code.");
  {
    std::lock_guard lock(metricsMutex_);
    for (const auto& [key, value] : requests_) {
      if (!written) break;
      written = out.add("siteplane_api_requests_total",
                        {{"verb", key.first}, {"code", std::to_string(key.second)}}, value);
    }
  }
  if (written && options_.metrics) written = options_.metrics(out);
  if (!written) log()->error("metrics_incomplete error=\"{}\"", written.message());
  ApiResponse response = textResponse(200, out.text());
  response.contentType = metrics::kContentType;
  return response;
}

}  // namespace siteplane::apiserver

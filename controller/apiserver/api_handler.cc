// ApiHandler's entry points: authentication, the request counters' outcome log, routing of a path
// to discovery, OpenAPI, the process's own paths (api_probes.cc) or a resource, and the dispatch
// of a resource request to its verb (api_read.cc, api_write.cc).

#include "controller/apiserver/api_handler.h"

#include <openssl/crypto.h>

#include <sstream>

#include "controller/apiserver/api_handler_support.h"
#include "controller/apiserver/discovery.h"

namespace siteplane::apiserver {
namespace {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> segments;
  std::stringstream stream(path);
  std::string segment;
  while (std::getline(stream, segment, '/')) {
    if (!segment.empty()) segments.push_back(segment);
  }
  return segments;
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

bool isGet(const ApiRequest& request) {
  return request.method == "GET" || request.method == "HEAD";
}

// The path segments up to the resources: /api/{version} (core) or /apis/{group}/{version}.
size_t groupVersionEnd(bool core) { return core ? 2 : 3; }

// The 404 for a path that names nothing served, in Kubernetes' words.
ApiError resourceNotFound(const ApiRequest& request) {
  return ApiError::notFound("the server could not find the requested resource (" + request.path +
                            ")");
}

// GET /version, as Kubernetes' version.Info: the Kubernetes API version siteplane speaks, with
// siteplane's own version in gitVersion.
nlohmann::json versionInfo(const std::string& version) {
  return {
      {"major", "1"},    {"minor", "32"},           {"gitVersion", "v1.32.0+siteplane." + version},
      {"gitCommit", ""}, {"gitTreeState", "clean"}, {"buildDate", ""},
      {"goVersion", ""}, {"compiler", "gcc"},       {"platform", "linux/amd64"}};
}

}  // namespace

ApiHandler::ApiHandler(store::Store& store, ResourceRegistry registry, ApiHandlerOptions options)
    : store_(store),
      registry_(std::move(registry)),
      options_(std::move(options)),
      openApi_(registry_),
      openApiV2_(openApi_) {}

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
  const std::vector<std::string> segments = splitPath(request.path);
  if (options_.probesOnly) return serveProbe(request, segments, verb);
  if (auto answered = serveNonResource(request, segments, verb)) return std::move(*answered);

  const std::string first = segments.empty() ? "" : segments[0];
  const bool core = first == "api";
  if (!core && first != "apis") {
    verb = "notfound";
    return reply(resourceNotFound(request));
  }
  // Discovery: /api, /apis, /apis/{group}, /apis/{group}/{version}, /api/{version}.
  if (segments.size() <= groupVersionEnd(core)) {
    verb = "discovery";
    return serveDiscovery(request, segments, core);
  }
  std::optional<Target> target = resolveTarget(segments, core);
  if (!target) {
    verb = "notfound";
    return reply(resourceNotFound(request));
  }
  return serveResource(request, *target, verb);
}

ApiReply ApiHandler::serveProbe(const ApiRequest& request, const std::vector<std::string>& segments,
                                std::string& verb) {
  const std::string first = segments.empty() ? "" : segments[0];
  if (segments.size() == 1 &&
      (first == "healthz" || first == "livez" || first == "readyz" || first == "metrics")) {
    return std::move(*serveNonResource(request, segments, verb));
  }
  verb = "notfound";
  return reply(
      ApiError::notFound("the health listener serves /healthz, /livez, /readyz and "
                         "/metrics only"));
}

std::optional<ApiReply> ApiHandler::serveNonResource(const ApiRequest& request,
                                                     const std::vector<std::string>& segments,
                                                     std::string& verb) {
  const std::string first = segments.empty() ? "" : segments[0];
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
    return reply(jsonResponse(200, versionInfo(options_.version)));
  }
  if ((first == "swagger-2.0.0.pb-v1" && segments.size() == 1) || first == "openapi") {
    verb = "openapi";
    return serveOpenApi(request, segments);
  }
  return std::nullopt;
}

ApiReply ApiHandler::serveOpenApi(const ApiRequest& request,
                                  const std::vector<std::string>& segments) {
  if (!isGet(request)) {
    return reply(ApiError::methodNotAllowed(request.method + " is not supported"));
  }
  if (segments[0] == "swagger-2.0.0.pb-v1") return reply(openApiV2_.respond(request, true));
  if (segments.size() == 2 && segments[1] == "v3")
    return reply(jsonResponse(200, openApi_.index()));
  if (segments.size() == 2 && segments[1] == "v2") return reply(openApiV2_.respond(request, false));
  if (segments.size() > 2 && segments[1] == "v3") {
    std::string key;
    for (size_t i = 2; i < segments.size(); ++i) key += (i > 2 ? "/" : "") + segments[i];
    if (const nlohmann::json* document = openApi_.document(key)) {
      return reply(jsonResponse(200, *document));
    }
  }
  return reply(ApiError::notFound("no OpenAPI document at " + request.path));
}

ApiReply ApiHandler::serveDiscovery(const ApiRequest& request,
                                    const std::vector<std::string>& segments, bool core) {
  if (!isGet(request)) {
    return reply(ApiError::methodNotAllowed(request.method + " is not supported"));
  }
  nlohmann::json document;
  if (segments.size() == 1) {
    std::string aggregated = aggregatedDiscoveryVersion(request);
    if (!aggregated.empty()) {
      return reply(jsonResponse(
          200, aggregatedDiscovery(registry_, core, aggregated),
          "application/json;g=apidiscovery.k8s.io;v=" + aggregated + ";as=APIGroupDiscoveryList"));
    }
    document = core ? apiVersions(registry_) : apiGroupList(registry_);
  } else if (core) {
    document = apiResourceList(registry_, "", segments[1]);
  } else if (segments.size() == 2) {
    document = apiGroup(registry_, segments[1]);
  } else {
    document = apiResourceList(registry_, segments[1], segments[2]);
  }
  if (document.is_null()) return reply(resourceNotFound(request));
  return reply(jsonResponse(200, document));
}

std::optional<ApiHandler::Target> ApiHandler::resolveTarget(
    const std::vector<std::string>& segments, bool core) const {
  // {gv}/{plural} or {gv}/namespaces/{ns}/{plural}[/{name}[/status]].
  const std::string group = core ? "" : segments[1];
  const std::string version = core ? segments[1] : segments[2];
  std::vector<std::string> rest(segments.begin() + static_cast<long>(groupVersionEnd(core)),
                                segments.end());
  Target target;
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    target.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (!rest.empty()) target.type = registry_.findByPlural(group, version, rest[0]);
  if (!target.type || rest.size() > 3 ||
      (target.type->namespaced && !target.ns && rest.size() > 1)) {
    return std::nullopt;
  }
  if (rest.size() >= 2) target.name = rest[1];
  if (rest.size() == 3) {
    if (rest[2] != "status" || !target.type->statusSubresource) return std::nullopt;
    target.subresource = "status";
  }
  return target;
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

}  // namespace siteplane::apiserver

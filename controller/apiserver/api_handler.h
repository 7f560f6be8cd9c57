#pragma once

// The Kubernetes-compatible REST API over the object store, independent of any transport: it
// takes a parsed request and returns a response (or, for `?watch=1`, a WatchStream the transport
// pumps to the client). It serves discovery, OpenAPI v3, list/get/watch, create, update,
// delete, merge / JSON / server-side-apply patches, the status subresource, Table output,
// health, readiness and metrics — enough that the real kubectl works against siteplane.
//
// Objects declared by a manifest file carry the annotation siteplane.io/manifest-file; the
// directory is the source of truth for them, so API writes to such an object are refused
// (403, naming the file) unless allowApiOverride is set.
//
// Thread-safety: handle() may be called from any number of threads at once.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics/exposition_writer.h"
#include "common/status.h"
#include "controller/apiserver/api_error.h"
#include "controller/apiserver/api_request.h"
#include "controller/apiserver/list_pager.h"
#include "controller/apiserver/open_api.h"
#include "controller/apiserver/open_api_v2.h"
#include "controller/apiserver/resource_registry.h"
#include "controller/apiserver/watch_stream.h"
#include "controller/store/store.h"

namespace siteplane::apiserver {

// The annotation that marks an object as declared by a manifest file (value: the file's path).
inline constexpr const char* kManifestFileAnnotation = "siteplane.io/manifest-file";
// Bodies above this are refused with 413 before they are parsed.
inline constexpr size_t kDefaultMaxBodyBytes = 3 * 1024 * 1024;

// One readiness check of /readyz (Kubernetes' readyz checks, e.g. "informer-sync"): `check`
// returns "" when ready, otherwise why not. Called on an API handler thread for every /readyz
// (several /readyz may run at once); should be quick and must not throw.
struct ReadyCheck {
  std::string name;
  std::function<std::string()> check;  // "" passes; otherwise why not
  // What /readyz?verbose adds to a passing line, "[+]name ok (detail)"; may be null.
  std::function<std::string()> detail = nullptr;
};

// The data plane's live binding table, for /runtime/sslcert and /runtime/explain (`siteplane show
// sslcert`, `siteplane explain`). The API server does not link the data plane: `serve` supplies
// these (controller/runtime turns the table into JSON). A null function: that path answers 404.
struct RuntimeView {
  // Each takes the request's query parameters and answers JSON, or an error naming the parameter
  // that is wrong (answered 400).
  using View =
      std::function<Result<nlohmann::json>(const std::multimap<std::string, std::string>& query)>;
  View sslcert;
  View explain;
};

struct ApiHandlerOptions {
  // Bearer token every request must present (Authorization: Bearer ...); empty disables the
  // check (tests). /healthz, /livez, /readyz and /version are open, as in Kubernetes.
  std::string token;
  // Only /healthz, /livez, /readyz and /metrics; every other path is 404 (ApiServerOptions).
  bool probesOnly = false;
  bool allowApiOverride = false;
  size_t maxBodyBytes = kDefaultMaxBodyBytes;
  // managedFields times (wallNow) and the age of list snapshots (now). Must outlive the handler.
  const Clock* clock = &Clock::real();
  // /readyz runs every check: 200 "ok" when all pass (or there are none), otherwise 500 listing
  // each check, as Kubernetes' readyz does.
  std::vector<ReadyCheck> readyChecks;
  // Adds the process's own families (data plane, controller, table, certificates) to /metrics,
  // next to the handler's siteplane_api_requests_total; null: none. An error is logged and the
  // rest of the exposition is still served.
  std::function<Status(metrics::ExpositionWriter&)> metrics;
  RuntimeView runtime;
  std::string version = "0.0.0";  // siteplane's version, reported by /version
};

struct ApiReply {
  ApiResponse response;
  // Set for a watch: send `response`'s status and headers, then stream chunks from the watch
  // (WatchStream::start) until the client goes away or the timeout passes.
  std::shared_ptr<WatchStream> watch;
  // The Kubernetes StatusReason of a failure ("AlreadyExists", "Conflict", ...; "" on success),
  // as the body's Status names it, for callers that tell failures apart without parsing it.
  std::string reason;
};

class ApiHandler {
 public:
  ApiHandler(store::Store& store, ResourceRegistry registry, ApiHandlerOptions options);
  ApiHandler(const ApiHandler&) = delete;
  ApiHandler& operator=(const ApiHandler&) = delete;

  ApiReply handle(const ApiRequest& request);

  // For the transport, once a request's head has arrived and before its body is read (`head`
  // has no body): the 401 that handle() would answer, counted and logged as handle() does, or
  // nothing when the request may go on. A client without the token thus never makes the server
  // buffer a body (kube-apiserver authenticates before it reads one, too).
  std::optional<ApiReply> refuseBeforeBody(const ApiRequest& head);

  const ResourceRegistry& registry() const { return registry_; }

 private:
  struct Target;  // a parsed resource URL
  struct Output;  // how the client wants objects rendered

  // api_handler.cc: authentication, routing, dispatch to a verb.
  ApiReply route(const ApiRequest& request, std::string& verb);
  // The 401 for a request that needs the token and lacks it; nothing for an open path
  // (probes, /version) or a valid token.
  std::optional<ApiReply> authenticate(const ApiRequest& request) const;
  void logOutcome(const ApiRequest& request, const std::string& verb, int code,
                  const ApiResponse& response);
  // The paths that are not /api or /apis: probes, /metrics, /runtime, /version, OpenAPI.
  // Nothing when the path is none of them.
  // The probes-only listener's paths (ApiHandlerOptions::probesOnly).
  ApiReply serveProbe(const ApiRequest& request, const std::vector<std::string>& segments,
                      std::string& verb);
  std::optional<ApiReply> serveNonResource(const ApiRequest& request,
                                           const std::vector<std::string>& segments,
                                           std::string& verb);
  ApiReply serveOpenApi(const ApiRequest& request, const std::vector<std::string>& segments);
  ApiReply serveDiscovery(const ApiRequest& request, const std::vector<std::string>& segments,
                          bool core);
  // The resource an /api or /apis path below the group version names; nothing when it names
  // none that is served.
  std::optional<Target> resolveTarget(const std::vector<std::string>& segments, bool core) const;
  ApiReply serveResource(const ApiRequest& request, const Target& target, std::string& verb);

  // api_read.cc
  ApiReply list(const ApiRequest& request, const Target& target, const Output& output);
  ApiReply watch(const ApiRequest& request, const Target& target, const Output& output);
  ApiReply get(const Target& target, const Output& output);

  // api_write.cc: the write verbs, and the read-modify-write every write of a stored object
  // goes through.
  ApiReply create(const ApiRequest& request, const Target& target);
  ApiReply update(const ApiRequest& request, const Target& target);
  ApiReply patch(const ApiRequest& request, const Target& target);
  ApiReply apply(const ApiRequest& request, const Target& target, const nlohmann::json& applied);
  ApiReply remove(const ApiRequest& request, const Target& target);

  struct Mutation;  // what one attempt of a read-modify-write writes
  // What guaranteedUpdate does with a Mutation.
  enum class WriteKind {
    kUpdate,  // the object must exist; Mutation::object is committed as its new state
    kUpsert,  // server-side apply: an object that does not exist is created (not for /status)
    kRemove,  // the object must exist and is deleted
  };
  // Fills `mutation` from `current` (null when there is none and the write may create it), or
  // returns the reply to answer instead: an error, or what a dry run answers.
  using Mutate =
      std::function<std::optional<ApiReply>(const nlohmann::json& current, Mutation& mutation)>;
  // Kubernetes' GuaranteedUpdate: reads the object, applies the ownership rule, lets `mutate`
  // make the write and commits it with the resourceVersion it read as precondition (unless the
  // client sent its own). When another write came in between (the store answers Conflict, or
  // AlreadyExists for a create) it reads again and starts over, at most kUpdateAttempts times.
  ApiReply guaranteedUpdate(const ApiRequest& request, const Target& target, WriteKind kind,
                            const Mutate& mutate);
  std::string now() const;

  // api_commit.cc: what every write goes through before the store, and the store call.
  struct Committed;  // a write's reply, and the store's code when the store refused it
  // Validates `object` with the decoder (422 with field paths; ?fieldValidation=Strict by
  // default) and stores it: created when `current` is null, otherwise updated (status only for
  // the status subresource). Honors dryRun.
  Committed commit(const ApiRequest& request, const Target& target, const nlohmann::json& current,
                   nlohmann::json object, int successCode);
  Committed commitValidated(const ApiRequest& request, const Target& target,
                            const nlohmann::json& current, nlohmann::json object, int successCode);
  // Deletes the object, if it is still at `resourceVersion` ("": whatever it is at).
  Committed commitRemoval(const Target& target, const std::string& resourceVersion);
  // 422 with every field path the decoder reports. With dropUnknown (fieldValidation Warn or
  // Ignore) unknown fields are removed from `object` and listed in `warnings` instead.
  std::optional<ApiError> validateObject(const Target& target, nlohmann::json& object,
                                         bool dropUnknown, std::vector<std::string>& warnings);
  // The 403 for an API write to an object a manifest file declares (unless allowApiOverride).
  std::optional<ApiError> checkOwnership(const Target& target, const nlohmann::json& current);

  // api_probes.cc: /readyz, /metrics and the request counters, /runtime.
  ApiResponse readyResponse(const ApiRequest& request) const;
  ApiResponse metricsResponse();
  ApiReply runtime(const ApiRequest& request, const std::vector<std::string>& segments);
  void count(const std::string& verb, int code);

  store::Store& store_;
  const ResourceRegistry registry_;
  const ApiHandlerOptions options_;
  const OpenApi openApi_;
  const OpenApiV2 openApiV2_;  // built from openApi_, declared after it

  ListPager pager_;  // continue tokens of paginated lists

  std::mutex metricsMutex_;                                   // guards requests_
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (verb, code) -> count
};

}  // namespace siteplane::apiserver

// The paths that report on the process rather than on stored objects: /readyz, /metrics (with
// the request counters it exposes) and /runtime.

#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/api_handler_support.h"

namespace siteplane::apiserver {

void ApiHandler::count(const std::string& verb, int code) {
  std::lock_guard lock(metricsMutex_);
  ++requests_[{verb, code}];
}

ApiResponse ApiHandler::readyResponse(const ApiRequest& request) const {
  // Kubernetes' format: one "[+]name ok" / "[-]name failed: reason" line per check, then the
  // verdict; a passing /readyz says only "ok" unless ?verbose asks for the list.
  std::string lines;
  bool ready = true;
  for (const auto& check : options_.readyChecks) {
    std::string failure = check.check ? check.check() : std::string();
    if (failure.empty()) {
      std::string detail = check.detail ? check.detail() : std::string();
      lines += "[+]" + check.name + " ok" + (detail.empty() ? "" : " (" + detail + ")") + "\n";
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

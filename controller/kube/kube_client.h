#pragma once

// Requests to the Kubernetes API server over HTTPS (libcurl), authenticated as the KubeConfig
// says: a bearer token (a token file is re-read before each request, since the kubelet rotates
// projected service-account tokens), or a client certificate.
//
//   auto client = KubeClient::create(config);
//   auto got = (*client)->request("GET", "/apis/siteplane.io/v1alpha1/sites?limit=500");
//   if (got && got->status == 200) ... got->body ...
//   (*client)->watch("/api/v1/secrets?watch=1&resourceVersion=42", [](std::string_view line) {
//     ... one JSON watch event per line ...
//     return true;  // false ends the watch
//   });
//
// Thread-safety: any thread; each call has its own connection state. cancel() ends every call
// in flight and every later one with ErrorCode::kCancelled (for shutdown).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "controller/kube/kube_config.h"

namespace siteplane::kube {

struct KubeResponse {
  long status = 0;
  std::string body;
};

struct KubeRequestOptions {
  std::string contentType = "application/json";
  // The whole request, for non-watch calls; a watch is bounded by idleTimeout instead.
  std::chrono::seconds timeout{30};
  // A larger answer ends the call with an error instead of growing without bound: a list page
  // of 500 objects of etcd's 1.5 MiB maximum stays under it.
  size_t maxResponseBytes = size_t{1} << 30;
};

// One watch event (an object of at most etcd's 1.5 MiB, in its envelope) is far below this; a
// longer line is refused, whoever sends it.
inline constexpr size_t kMaxWatchEventBytes = size_t{16} << 20;

// The message of a Kubernetes Status body (what a refusal says), or the start of the body.
std::string statusMessage(const std::string& body);

class KubeClient {
 public:
  static Result<std::unique_ptr<KubeClient>> create(KubeConfig config);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // A transport failure (connection refused, TLS, timeout) is an error Status; any HTTP answer,
  // 4xx and 5xx included, is a KubeResponse for the caller to read.
  Result<KubeResponse> request(const std::string& method, const std::string& path,
                               const std::string& body = "",
                               const KubeRequestOptions& options = {});

  // GETs `path` (a watch=1 URL) and calls onLine for each newline-terminated line of the body as
  // it arrives. Returns ok when the server ends the stream (its timeoutSeconds) or onLine returns
  // false; an HTTP status other than 200 is an error carrying the body's message (410 Gone has
  // ErrorCode::kExpired). A stream silent for longer than idleTimeout is a dead connection, and a
  // line longer than maxEventBytes is refused: both errors (kUnavailable), for a retry.
  Status watch(const std::string& path, const std::function<bool(std::string_view line)>& onLine,
               std::chrono::seconds idleTimeout = std::chrono::seconds(90),
               size_t maxEventBytes = kMaxWatchEventBytes);

  void cancel();
  const KubeConfig& config() const { return config_; }

 private:
  explicit KubeClient(KubeConfig config) : config_(std::move(config)) {}
  Result<std::string> authorization() const;

  KubeConfig config_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace siteplane::kube

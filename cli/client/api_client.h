#pragma once

// The CLI's view of the siteplane API: resource names for our kinds, URL building, and
// Kubernetes `Status` error bodies turned into one readable line.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli/client/https_client.h"
#include "cli/client/kubeconfig.h"
#include "common/status.h"

namespace siteplane::cli {

inline constexpr std::string_view kApiGroupVersion = "siteplane.io/v1alpha1";
inline constexpr std::string_view kFieldManager = "siteplane";

struct ResourceType {
  std::string kind;    // "Binding"
  std::string plural;  // "bindings"
};

// "binding", "bindings", "Binding", "cert", ... -> the resource; nullopt for anything else.
std::optional<ResourceType> findResourceType(std::string_view name);
// The resource type of a kind as written in a manifest ("Binding").
std::optional<ResourceType> resourceTypeOfKind(std::string_view kind);
// Every served resource type, in the order `get all`-style listings use.
const std::vector<ResourceType>& resourceTypes();

// An API error: the HTTP status and one line saying what went wrong.
struct ApiError {
  int status = 0;  // 0 when the server was not reached
  std::string message;
};

template <typename T>
class ApiResult {
 public:
  ApiResult(T value) : value_(std::move(value)) {}         // NOLINT: implicit like Result<T>
  ApiResult(ApiError error) : error_(std::move(error)) {}  // NOLINT
  explicit operator bool() const { return value_.has_value(); }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }
  const ApiError& error() const { return error_; }

 private:
  std::optional<T> value_;
  ApiError error_;
};

class ApiClient {
 public:
  static Result<std::unique_ptr<ApiClient>> create(const Kubeconfig& config,
                                                   std::chrono::milliseconds timeout);

  // Sends a request with the bearer token; a 2xx answer's JSON body (null when empty) or the
  // error. `contentType` matters only with a body.
  ApiResult<nlohmann::json> call(const std::string& method, const std::string& target,
                                 const std::string& body = "",
                                 const std::string& contentType = "application/json",
                                 const std::string& accept = "application/json") const;

  // "/apis/siteplane.io/v1alpha1/namespaces/NS/PLURAL[/NAME]"; NS empty = all namespaces.
  static std::string resourcePath(const ResourceType& type, const std::string& nameSpace,
                                  const std::string& name = "");

  const Kubeconfig& config() const { return config_; }

 private:
  ApiClient(Kubeconfig config, std::unique_ptr<HttpsClient> http);
  Kubeconfig config_;
  std::unique_ptr<HttpsClient> http_;
};

// Percent-encodes a query parameter value.
std::string queryEscape(std::string_view text);

}  // namespace siteplane::cli

#include "cli/client/api_client.h"

#include <algorithm>
#include <cctype>

namespace siteplane::cli {
namespace {

using nlohmann::json;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// One line for a failed request: the Status object's message (which for 422 already lists the
// field paths; the causes are added when it does not) or the raw body.
std::string errorMessage(int status, const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    std::string message = parsed.value("message", "");
    if (parsed.contains("details") && parsed["details"].is_object() &&
        parsed["details"].contains("causes") && parsed["details"]["causes"].is_array()) {
      for (const auto& cause : parsed["details"]["causes"]) {
        if (!cause.is_object()) continue;
        std::string field = cause.value("field", "");
        std::string text = cause.value("message", "");
        std::string item = field.empty() ? text : field + ": " + text;
        if (!item.empty() && message.find(item) == std::string::npos &&
            message.find(field) == std::string::npos) {
          message += "; " + item;
        }
      }
    }
    if (message.empty()) message = parsed.value("reason", "");
    if (!message.empty()) return message;
  }
  std::string text = body.substr(0, 200);
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.empty()) return "the API server answered HTTP " + std::to_string(status);
  return "the API server answered HTTP " + std::to_string(status) + ": " + text;
}

}  // namespace

const std::vector<ResourceType>& resourceTypes() {
  static const std::vector<ResourceType> kTypes = {{"Site", "sites"},
                                                   {"Binding", "bindings"},
                                                   {"Certificate", "certificates"},
                                                   {"Issuer", "issuers"}};
  return kTypes;
}

std::optional<ResourceType> findResourceType(std::string_view name) {
  std::string wanted = lower(name);
  // "sites.siteplane.io" is how kubectl spells a fully qualified resource.
  if (auto dot = wanted.find('.'); dot != std::string::npos) {
    if (wanted.substr(dot + 1) != "siteplane.io") return std::nullopt;
    wanted.resize(dot);
  }
  if (wanted == "cert" || wanted == "certs") wanted = "certificate";
  for (const auto& type : resourceTypes()) {
    if (wanted == lower(type.kind) || wanted == type.plural) return type;
  }
  return std::nullopt;
}

std::optional<ResourceType> resourceTypeOfKind(std::string_view kind) {
  for (const auto& type : resourceTypes()) {
    if (kind == type.kind) return type;
  }
  return std::nullopt;
}

std::string queryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

ApiClient::ApiClient(Kubeconfig config, std::unique_ptr<HttpsClient> http)
    : config_(std::move(config)), http_(std::move(http)) {}

Result<std::unique_ptr<ApiClient>> ApiClient::create(const Kubeconfig& config,
                                                     std::chrono::milliseconds timeout) {
  auto http = HttpsClient::create(config.server, config.caPem, timeout);
  if (!http) {
    return Result<std::unique_ptr<ApiClient>>::error("kubeconfig " + config.path.string() + ": " +
                                                     http.message());
  }
  return std::unique_ptr<ApiClient>(new ApiClient(config, std::move(http).value()));
}

std::string ApiClient::resourcePath(const ResourceType& type, const std::string& nameSpace,
                                    const std::string& name) {
  std::string path = "/apis/" + std::string(kApiGroupVersion);
  if (!nameSpace.empty()) path += "/namespaces/" + nameSpace;
  path += "/" + type.plural;
  if (!name.empty()) path += "/" + name;
  return path;
}

ApiResult<json> ApiClient::call(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& contentType,
                                const std::string& accept) const {
  HttpRequest request;
  request.method = method;
  request.target = target;
  request.body = body;
  request.headers["Accept"] = accept;
  request.headers["User-Agent"] = std::string("siteplane/") + SITEPLANE_VERSION;
  if (!config_.token.empty()) request.headers["Authorization"] = "Bearer " + config_.token;
  if (!body.empty()) request.headers["Content-Type"] = contentType;
  auto response = http_->send(request);
  if (!response) return ApiError{0, response.message()};
  if (response->status == 401) {
    return ApiError{401, "the API server at " + config_.server + " refused the token from " +
                             config_.path.string() + " (401 Unauthorized)"};
  }
  if (response->status < 200 || response->status >= 300) {
    return ApiError{response->status, errorMessage(response->status, response->body)};
  }
  if (response->body.empty()) return json(nullptr);
  json parsed = json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) {
    return ApiError{response->status, "the API server sent a body that is not JSON"};
  }
  return parsed;
}

}  // namespace siteplane::cli

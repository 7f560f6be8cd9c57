#include "controller/apiserver/api_error.h"

namespace siteplane::apiserver {
namespace {

ApiError make(int code, const char* reason, std::string message) {
  ApiError error;
  error.code = code;
  error.reason = reason;
  error.message = std::move(message);
  return error;
}

}  // namespace

nlohmann::json ApiError::toJson() const {
  nlohmann::json status = {
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
      {"status", "Failure"}, {"message", message}, {"reason", reason},
      {"code", code}};
  nlohmann::json details = nlohmann::json::object();
  if (!name.empty()) details["name"] = name;
  if (!group.empty()) details["group"] = group;
  if (!kind.empty()) details["kind"] = kind;
  if (!causes.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& cause : causes) {
      nlohmann::json item = {{"reason", cause.reason}, {"message", cause.message}};
      if (!cause.field.empty()) item["field"] = cause.field;
      list.push_back(std::move(item));
    }
    details["causes"] = std::move(list);
  }
  if (retryAfterSeconds > 0) details["retryAfterSeconds"] = retryAfterSeconds;
  if (!details.empty()) status["details"] = std::move(details);
  return status;
}

ApiResponse ApiError::toResponse() const {
  ApiResponse response;
  response.status = code;
  // Messages may quote request bytes that are not UTF-8: replace them rather than throw.
  response.body = toJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (retryAfterSeconds > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(retryAfterSeconds));
  }
  return response;
}

ApiError ApiError::badRequest(std::string m) { return make(400, "BadRequest", std::move(m)); }
ApiError ApiError::unauthorized(std::string m) { return make(401, "Unauthorized", std::move(m)); }
ApiError ApiError::forbidden(std::string m) { return make(403, "Forbidden", std::move(m)); }
ApiError ApiError::notFound(std::string m) { return make(404, "NotFound", std::move(m)); }
ApiError ApiError::methodNotAllowed(std::string m) {
  return make(405, "MethodNotAllowed", std::move(m));
}
ApiError ApiError::notAcceptable(std::string m) { return make(406, "NotAcceptable", std::move(m)); }
ApiError ApiError::conflict(std::string m) { return make(409, "Conflict", std::move(m)); }
ApiError ApiError::alreadyExists(std::string m) { return make(409, "AlreadyExists", std::move(m)); }
ApiError ApiError::gone(std::string m) { return make(410, "Expired", std::move(m)); }
ApiError ApiError::requestEntityTooLarge(std::string m) {
  return make(413, "RequestEntityTooLarge", std::move(m));
}
ApiError ApiError::headerFieldsTooLarge(std::string m) {
  return make(431, "RequestHeaderFieldsTooLarge", std::move(m));
}
ApiError ApiError::requestTimeout(std::string m) { return make(408, "Timeout", std::move(m)); }
ApiError ApiError::unsupportedMediaType(std::string m) {
  return make(415, "UnsupportedMediaType", std::move(m));
}
ApiError ApiError::invalid(std::string m, std::vector<StatusCause> causes) {
  ApiError error = make(422, "Invalid", std::move(m));
  error.causes = std::move(causes);
  return error;
}
ApiError ApiError::internal(std::string m) { return make(500, "InternalError", std::move(m)); }
ApiError ApiError::serviceUnavailable(std::string m) {
  return make(503, "ServiceUnavailable", std::move(m));
}

ApiError ApiError::fromCode(ErrorCode code, std::string m) {
  ApiError error;
  error.code = httpStatusOf(code);
  error.reason = std::string(reasonOf(code));
  error.message = std::move(m);
  return error;
}

int httpStatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kInvalid:
      return 422;
    case ErrorCode::kExpired:
      return 410;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
    case ErrorCode::kCancelled:
    case ErrorCode::kUnspecified:
    case ErrorCode::kPathNotAllowed:
    case ErrorCode::kKeyMismatch:
    case ErrorCode::kInvalidChain:
      return 500;
  }
  return 500;
}

std::string_view reasonOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kAlreadyExists:
      return "AlreadyExists";
    case ErrorCode::kConflict:
      return "Conflict";
    case ErrorCode::kInvalid:
      return "Invalid";
    case ErrorCode::kExpired:
      return "Expired";
    case ErrorCode::kUnsupportedMediaType:
      return "UnsupportedMediaType";
    case ErrorCode::kUnavailable:
      return "ServiceUnavailable";
    case ErrorCode::kInternal:
    case ErrorCode::kCancelled:
    case ErrorCode::kUnspecified:
    case ErrorCode::kPathNotAllowed:
    case ErrorCode::kKeyMismatch:
    case ErrorCode::kInvalidChain:
      return "InternalError";
  }
  return "InternalError";
}

nlohmann::json successStatus(const std::string& name, const std::string& group,
                             const std::string& kind, const std::string& uid) {
  nlohmann::json details = {{"name", name}, {"group", group}, {"kind", kind}};
  if (!uid.empty()) details["uid"] = uid;
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", nlohmann::json::object()},
          {"status", "Success"},
          {"details", details}};
}

}  // namespace siteplane::apiserver

#include "controller/apiserver/api_handler_support.h"

#include "common/logging.h"

namespace siteplane::apiserver {
namespace {

// The Kubernetes wording for an error about one object: `bindings.siteplane.io "web"`.
std::string qualified(const ResourceType& type, const std::string& name) {
  return type.groupResource() + " \"" + name + "\"";
}

// How Kubernetes names a kind in an Invalid message: "Binding.siteplane.io", "Event" (core).
std::string qualifiedKind(const ResourceType& type) {
  return type.group.empty() ? type.kind : type.kind + "." + type.group;
}

}  // namespace

std::shared_ptr<spdlog::logger> log() { return logger("controller.apiserver"); }

ApiResponse jsonResponse(int status, const nlohmann::json& body, std::string contentType) {
  ApiResponse response;
  response.status = status;
  response.contentType = std::move(contentType);
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

ApiResponse textResponse(int status, std::string body) {
  ApiResponse response;
  response.status = status;
  response.contentType = "text/plain; charset=utf-8";
  response.body = std::move(body);
  return response;
}

ApiReply reply(ApiResponse response) { return ApiReply{std::move(response), nullptr, ""}; }
ApiReply reply(const ApiError& error) {
  return ApiReply{error.toResponse(), nullptr, error.reason};
}

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

}  // namespace siteplane::apiserver

#pragma once

// Every API failure is answered as a Kubernetes `Status` object (kind: Status, apiVersion: v1)
// with an HTTP code, a machine-readable reason (NotFound, Conflict, Invalid, ...) and, for
// validation failures, one cause per field path, so kubectl prints the same paths the decoder
// reports for manifest files.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/apiserver/api_request.h"

namespace siteplane::apiserver {

struct StatusCause {
  std::string reason;  // "FieldValueInvalid", "FieldManagerConflict", ...
  std::string message;
  std::string field;  // "spec.ssl.clientCARefs[1].name"
};

struct ApiError {
  int code = 500;
  std::string reason;  // Kubernetes StatusReason
  std::string message;
  // details: which object the failure is about (any may be empty).
  std::string name;
  std::string group;
  std::string kind;  // the resource's plural for NotFound/AlreadyExists, as Kubernetes does
  std::vector<StatusCause> causes;
  int retryAfterSeconds = 0;

  nlohmann::json toJson() const;
  ApiResponse toResponse() const;

  static ApiError badRequest(std::string message);
  static ApiError unauthorized(std::string message);
  static ApiError forbidden(std::string message);
  static ApiError notFound(std::string message);
  static ApiError methodNotAllowed(std::string message);
  static ApiError notAcceptable(std::string message);
  static ApiError conflict(std::string message);
  static ApiError alreadyExists(std::string message);
  static ApiError gone(std::string message);
  static ApiError requestEntityTooLarge(std::string message);
  static ApiError headerFieldsTooLarge(std::string message);  // 431
  static ApiError requestTimeout(std::string message);        // 408: the client sent too slowly
  static ApiError unsupportedMediaType(std::string message);
  static ApiError invalid(std::string message, std::vector<StatusCause> causes);
  static ApiError internal(std::string message);
  static ApiError serviceUnavailable(std::string message);
  // The HTTP status and reason of `code` (httpStatusOf, reasonOf) with `message`.
  static ApiError fromCode(ErrorCode code, std::string message);
};

// How the API server answers a failure of the store (or of any module that reports an ErrorCode):
// the store codes map one to one onto a Kubernetes StatusReason and its HTTP status (NotFound 404,
// AlreadyExists 409, Conflict 409, Invalid 422, Expired 410, InternalError 500); a code that has
// no reason of its own in the API (a certificate failure, kUnspecified) is an InternalError.
int httpStatusOf(ErrorCode code);
std::string_view reasonOf(ErrorCode code);

// A successful Status ({"status": "Success"}), e.g. for a delete that has no object to return.
nlohmann::json successStatus(const std::string& name, const std::string& group,
                             const std::string& kind, const std::string& uid);

}  // namespace siteplane::apiserver

#include "controller/apiserver/api_error.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace siteplane::apiserver {
namespace {

TEST_CASE("Store error codes map to the Kubernetes HTTP statuses and reasons",
          "[controller][apiserver]") {
  struct Case {
    ErrorCode code;
    int status;
    std::string reason;
  };
  for (const auto& c : std::vector<Case>{{ErrorCode::kNotFound, 404, "NotFound"},
                                         {ErrorCode::kAlreadyExists, 409, "AlreadyExists"},
                                         {ErrorCode::kConflict, 409, "Conflict"},
                                         {ErrorCode::kInvalid, 422, "Invalid"},
                                         {ErrorCode::kExpired, 410, "Expired"},
                                         {ErrorCode::kInternal, 500, "InternalError"}}) {
    ApiError error = ApiError::fromCode(c.code, "x");
    CHECK(httpStatusOf(c.code) == c.status);
    CHECK(reasonOf(c.code) == c.reason);
    CHECK(error.code == c.status);
    CHECK(error.reason == c.reason);
    CHECK(error.message == "x");
  }
}

TEST_CASE("Error codes without an API reason of their own are an InternalError",
          "[controller][apiserver]") {
  for (ErrorCode code : {ErrorCode::kUnspecified, ErrorCode::kPathNotAllowed,
                         ErrorCode::kKeyMismatch, ErrorCode::kInvalidChain}) {
    CHECK(httpStatusOf(code) == 500);
    CHECK(reasonOf(code) == "InternalError");
  }
  CHECK(httpStatusOf(ErrorCode::kUnsupportedMediaType) == 415);
  CHECK(reasonOf(ErrorCode::kUnsupportedMediaType) == "UnsupportedMediaType");
  CHECK(httpStatusOf(ErrorCode::kUnavailable) == 503);
  CHECK(reasonOf(ErrorCode::kUnavailable) == "ServiceUnavailable");
}

}  // namespace
}  // namespace siteplane::apiserver

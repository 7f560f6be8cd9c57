#include "common/status.h"

#include <catch2/catch.hpp>
#include <string>

using siteplane::ErrorCode;
using siteplane::Result;
using siteplane::Status;

TEST_CASE("Status::error without a code is kUnspecified", "[common][status]") {
  Status status = Status::error("disk full");
  REQUIRE_FALSE(status.isOk());
  CHECK(status.code() == ErrorCode::kUnspecified);
  CHECK(status.message() == "disk full");
}

TEST_CASE("Status::error keeps its code and message", "[common][status]") {
  Status status = Status::error(ErrorCode::kNotFound, "bindings.siteplane.io \"web\" not found");
  REQUIRE_FALSE(status.isOk());
  CHECK(status.code() == ErrorCode::kNotFound);
  CHECK(status.message() == "bindings.siteplane.io \"web\" not found");
}

TEST_CASE("withContext prefixes the message and keeps the code", "[common][status]") {
  Status status =
      Status::error(ErrorCode::kKeyMismatch, "the private key matches none").withContext("tls.pem");
  CHECK(status.code() == ErrorCode::kKeyMismatch);
  CHECK(status.message() == "tls.pem: the private key matches none");
  CHECK(Status::ok().withContext("tls.pem").isOk());
}

TEST_CASE("Result carries the code of its Status", "[common][status]") {
  Result<int> failed = Result<int>::error(ErrorCode::kConflict, "stale");
  REQUIRE_FALSE(failed.isOk());
  CHECK(failed.code() == ErrorCode::kConflict);
  CHECK(failed.message() == "stale");
  CHECK(failed.status().code() == ErrorCode::kConflict);

  Result<int> fromStatus = Status::error(ErrorCode::kExpired, "too old");
  CHECK(fromStatus.code() == ErrorCode::kExpired);
  CHECK(Result<int>::error("plain").code() == ErrorCode::kUnspecified);

  Result<int> value = 7;
  REQUIRE(value.isOk());
  CHECK(*value == 7);
  CHECK(value.status().isOk());
}

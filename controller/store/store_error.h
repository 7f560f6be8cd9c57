#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace siteplane::store {

// Why a store operation failed. The codes are the ones the Kubernetes API reports, so the API
// server maps them one to one onto an HTTP status and a metav1.Status reason.
struct StoreError {
  enum class Code {
    kNotFound,       // 404 NotFound: no object under that key
    kAlreadyExists,  // 409 AlreadyExists: create of a key that exists
    kConflict,       // 409 Conflict: resourceVersion (or uid) precondition is not current
    kInvalid,        // 422 Invalid: the object or the request is malformed
    kExpired,        // 410 Gone / Expired: a watch asked for history the store no longer keeps
    kInternal,       // 500 InternalError: the state directory could not be written
  };

  Code code = Code::kInternal;
  std::string message;

  int httpStatus() const;
  // The Kubernetes StatusReason: "NotFound", "AlreadyExists", "Conflict", "Invalid", "Expired",
  // "InternalError".
  std::string_view reason() const;
};

const char* toString(StoreError::Code code);

// A value or the StoreError explaining why there is none. [[nodiscard]] like Result<T>, so a
// failed write cannot be dropped silently.
template <typename T>
class [[nodiscard]] StoreResult {
 public:
  StoreResult(T value) : state_(std::move(value)) {}           // NOLINT: implicit, `return value;`
  StoreResult(StoreError error) : state_(std::move(error)) {}  // NOLINT: implicit, `return error;`

  bool isOk() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return isOk(); }

  // Preconditions: isOk() for value(), !isOk() for error().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const StoreError& error() const { return std::get<StoreError>(state_); }
  StoreError::Code code() const { return error().code; }
  const std::string& message() const { return error().message; }

 private:
  std::variant<T, StoreError> state_;
};

inline StoreError notFound(std::string message) {
  return {StoreError::Code::kNotFound, std::move(message)};
}
inline StoreError alreadyExists(std::string message) {
  return {StoreError::Code::kAlreadyExists, std::move(message)};
}
inline StoreError conflict(std::string message) {
  return {StoreError::Code::kConflict, std::move(message)};
}
inline StoreError invalid(std::string message) {
  return {StoreError::Code::kInvalid, std::move(message)};
}
inline StoreError expired(std::string message) {
  return {StoreError::Code::kExpired, std::move(message)};
}
inline StoreError internal(std::string message) {
  return {StoreError::Code::kInternal, std::move(message)};
}

}  // namespace siteplane::store

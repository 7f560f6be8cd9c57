#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace siteplane {

// What kind of failure a Status reports, for the callers that act differently on one kind: they
// branch on the code, never on the message, which is for people and may be reworded. A failure
// nobody branches on stays kUnspecified; a code is added when some caller needs to tell it apart.
enum class ErrorCode {
  // The failure is only reported (logged, shown on a condition) and no caller branches on it.
  kUnspecified,

  // Store and API failures. They are the Kubernetes StatusReasons the API server answers with
  // (one to one, see controller/apiserver/api_error.h), and the controllers branch on them too.
  kNotFound,       // 404 NotFound: no object under that key (reconcilers treat it as deleted)
  kAlreadyExists,  // 409 AlreadyExists: create of a key that exists (server-side apply retries)
  kConflict,       // 409 Conflict: the resourceVersion or uid precondition is not current
  kInvalid,        // 422 Invalid: the object or the request is malformed
  kExpired,        // 410 Gone / Expired: a watch asked for history the store no longer keeps
  kInternal,       // 500 InternalError: the state directory could not be written

  // Certificate material the Certificate reconciler rejects with its own condition reason, so an
  // operator can tell a refused path from a wrong file (controller/reconcile).
  kPathNotAllowed,  // PathNotAllowed: the import path policy refused to read the file
  kKeyMismatch,     // KeyMismatch: the private key matches no certificate of the file
  kInvalidChain,    // InvalidChain: the certificates do not form one chain from one leaf

  // 415 UnsupportedMediaType: a request body in a format the API server does not read, which it
  // answers differently from a body that does not parse.
  kUnsupportedMediaType,

  // Calls to another server (the Kubernetes API in Kubernetes mode, controller/kube).
  kUnavailable,  // 503 ServiceUnavailable: it could not be reached or answered 5xx; retry later
  kCancelled,    // the call was ended by shutdown, not by the other end
};

// The result of an operation that can fail. Fallible functions return Status or Result<T> rather
// than throwing, so that no exception crosses a libuv/OpenSSL callback or a thread, and
// [[nodiscard]] makes sure an error is never dropped silently.
class [[nodiscard]] Status {
 public:
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    return Status(ErrorCode::kUnspecified, std::move(message));
  }
  static Status error(ErrorCode code, std::string message) {
    return Status(code, std::move(message));
  }

  bool isOk() const { return !message_.has_value(); }
  explicit operator bool() const { return isOk(); }
  // Preconditions: !isOk().
  const std::string& message() const {
    assert(message_.has_value());  // callers check isOk() first; an empty message is a caller bug
    return *message_;
  }
  ErrorCode code() const {
    assert(message_.has_value());  // an ok status has no code to branch on: a caller bug
    return code_;
  }
  // Prefixes the message with context ("loading cert.pem: ...") and passes an ok status through.
  // The code stays: context is for people, the code for the callers that branch on it.
  Status withContext(const std::string& context) && {
    if (isOk()) return std::move(*this);
    return Status(code_, context + ": " + *message_);
  }

 private:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code_ = ErrorCode::kUnspecified;
  std::optional<std::string> message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit, so `return value;` works
  Result(Status status)
      : state_(std::move(status)) {  // NOLINT: implicit, so `return Status::error(..)` works
    assert(!std::get<Status>(state_).isOk());  // an ok Status carries no value: a caller bug
  }
  static Result error(std::string message) { return Result(Status::error(std::move(message))); }
  static Result error(ErrorCode code, std::string message) {
    return Result(Status::error(code, std::move(message)));
  }

  bool isOk() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return isOk(); }

  // Preconditions: isOk() for value(), !isOk() for status()/message()/code().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Status status() const { return isOk() ? Status::ok() : std::get<Status>(state_); }
  const std::string& message() const { return std::get<Status>(state_).message(); }
  ErrorCode code() const { return std::get<Status>(state_).code(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace siteplane

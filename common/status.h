#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace siteplane {

// The result of an operation that can fail. Fallible functions return Status or Result<T> rather
// than throwing, so that no exception crosses a libuv/OpenSSL callback or a thread, and
// [[nodiscard]] makes sure an error is never dropped silently.
class [[nodiscard]] Status {
 public:
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool isOk() const { return !message_.has_value(); }
  explicit operator bool() const { return isOk(); }
  // Precondition: !isOk().
  const std::string& message() const {
    assert(message_.has_value());  // callers check isOk() first; an empty message is a caller bug
    return *message_;
  }
  // Prefixes the message with context ("loading cert.pem: ...") and passes an ok status through.
  Status withContext(const std::string& context) && {
    if (isOk()) return std::move(*this);
    return Status(context + ": " + *message_);
  }

 private:
  Status() = default;
  explicit Status(std::string message) : message_(std::move(message)) {}
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

  bool isOk() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return isOk(); }

  // Preconditions: isOk() for value(), !isOk() for status()/message().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Status status() const { return isOk() ? Status::ok() : std::get<Status>(state_); }
  const std::string& message() const { return std::get<Status>(state_).message(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace siteplane

#pragma once

// Ownership of one libuv handle, as uvw does it: the handle lives on the heap, and its memory is
// freed in libuv's close callback, never before. libuv may still touch a handle between uv_close()
// and that callback (a pending write, an fs event in the same loop iteration), so a handle that is
// a member of its owner would be a use-after-free whenever the owner dies first.
//
//   auto timer = UvHandle<uv_timer_t>::create(uv_timer_init, loop, this);
//   if (!timer) return timer.status();
//   uv_timer_start(timer->get(), &Owner::onTimer, 100, 0);  // the callback finds `this` in data
//   ...
//   timer->close();  // or let it go out of scope; on the loop's thread either way
//
// After close() no callback of the handle runs but its close callback; so an owner that closes
// its handles (on the loop's thread) may be destroyed right away, although the memory of the
// handles is freed only when the loop runs again. Not thread-safe: use it on the loop's thread
// (uv_async_send on an async handle is the one call libuv allows from any thread).

#include <uv.h>

#include <string>
#include <type_traits>
#include <utility>

#include "common/status.h"

namespace siteplane::event_loop {

// "uv_tcp_init: too many open files": a libuv error code as a Status.
inline Status uvError(const char* what, int rc) {
  return Status::error(std::string(what) + ": " + uv_strerror(rc));
}

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  ~UvHandle() { close(); }
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  // A new handle initialised by `init(loop, handle, args...)` (uv_timer_init, uv_tcp_init,
  // uv_async_init with its callback, ...), with `data` set; the error of `init` otherwise.
  template <typename Init, typename... Args>
  static Result<UvHandle> create(Init init, uv_loop_t* loop, void* data, Args... args) {
    auto* handle = new T{};
    if (int rc = init(loop, handle, args...); rc != 0) {
      delete handle;  // a handle whose init failed is not registered with the loop
      return uvError(initName<T>(), rc);
    }
    handle->data = data;
    return UvHandle(handle);
  }

  T* get() const { return handle_; }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(handle_); }
  explicit operator bool() const { return handle_ != nullptr; }

  // uv_close; the memory goes in the close callback. Idempotent; a no-op on an empty handle.
  void close() {
    if (!handle_) return;
    uv_close(base(), [](uv_handle_t* handle) { delete reinterpret_cast<T*>(handle); });
    handle_ = nullptr;
  }

 private:
  explicit UvHandle(T* handle) : handle_(handle) {}

  template <typename U>
  static constexpr const char* initName() {
    if constexpr (std::is_same_v<U, uv_timer_t>) return "uv_timer_init";
    if constexpr (std::is_same_v<U, uv_async_t>) return "uv_async_init";
    if constexpr (std::is_same_v<U, uv_tcp_t>) return "uv_tcp_init";
    if constexpr (std::is_same_v<U, uv_fs_event_t>) return "uv_fs_event_init";
    return "uv handle init";
  }

  T* handle_ = nullptr;
};

}  // namespace siteplane::event_loop

#pragma once

// A joinable thread whose stack size is chosen by the code that starts it, not by the process's
// RLIMIT_STACK. glibc sizes a std::thread's stack from that limit (8 MiB under most shells, less
// in some containers), and JSON from a client is decoded, patched and encoded by recursive code:
// nesting the body accepts (kMaxJsonDepth levels) must fit however the process was started.
//
//   auto thread = SizedThread::start(kDeepJsonStackBytes, [&] { serve(); });
//   if (!thread) return thread.status();
//   ...
//   thread->join();
//
// The stack is reserved address space; only the pages a call touches are committed.

#include <cstddef>
#include <functional>
#include <memory>

#include "common/status.h"

namespace siteplane {

// Enough for code that walks JSON nested to the API's depth limit with every frame that a
// sanitizer build adds (measured: an ASan build needs between 16 and 32 MiB for the API
// handler's deepest accepted bodies; a release build less than 2 MiB).
inline constexpr size_t kDeepJsonStackBytes = size_t{64} << 20;

class SizedThread {
 public:
  static Result<SizedThread> start(size_t stackBytes, std::function<void()> body);

  SizedThread() = default;
  SizedThread(SizedThread&& other) noexcept;
  SizedThread& operator=(SizedThread&& other) noexcept;
  SizedThread(const SizedThread&) = delete;
  SizedThread& operator=(const SizedThread&) = delete;
  // Precondition: joined (or never started), as with std::thread.
  ~SizedThread();

  bool joinable() const { return joinable_; }
  void join();

 private:
  unsigned long handle_ = 0;  // pthread_t
  bool joinable_ = false;
};

}  // namespace siteplane

#include "common/sized_thread.h"

#include <pthread.h>

#include <cassert>
#include <cstring>
#include <string>

namespace siteplane {

namespace {

static_assert(sizeof(pthread_t) <= sizeof(unsigned long), "pthread_t fits the handle");

void* runBody(void* argument) {
  std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(argument));
  (*body)();  // a body that throws ends the process, as with std::thread
  return nullptr;
}

Status threadError(const char* step, int code) {
  return Status::error(std::string("cannot start a thread: ") + step + ": " + std::strerror(code));
}

}  // namespace

Result<SizedThread> SizedThread::start(size_t stackBytes, std::function<void()> body) {
  pthread_attr_t attributes;
  if (int code = pthread_attr_init(&attributes); code != 0)
    return threadError("pthread_attr_init", code);
  int code = pthread_attr_setstacksize(&attributes, stackBytes);
  if (code != 0) {
    pthread_attr_destroy(&attributes);
    return threadError("pthread_attr_setstacksize", code);
  }
  auto owned = std::make_unique<std::function<void()>>(std::move(body));
  pthread_t handle;
  code = pthread_create(&handle, &attributes, &runBody, owned.get());
  pthread_attr_destroy(&attributes);
  if (code != 0) return threadError("pthread_create", code);
  owned.release();  // runBody owns it now
  SizedThread thread;
  thread.handle_ = static_cast<unsigned long>(handle);
  thread.joinable_ = true;
  return thread;
}

SizedThread::SizedThread(SizedThread&& other) noexcept
    : handle_(other.handle_), joinable_(other.joinable_) {
  other.joinable_ = false;
}

SizedThread& SizedThread::operator=(SizedThread&& other) noexcept {
  assert(!joinable_);
  handle_ = other.handle_;
  joinable_ = other.joinable_;
  other.joinable_ = false;
  return *this;
}

SizedThread::~SizedThread() {
  // A running thread that nobody joins would outlive what it uses.
  if (joinable_) std::terminate();
}

void SizedThread::join() {
  assert(joinable_);
  pthread_join(static_cast<pthread_t>(handle_), nullptr);
  joinable_ = false;
}

}  // namespace siteplane

#pragma once

#include <unistd.h>

#include <utility>

namespace siteplane {

// Owns one file descriptor and closes it on destruction, on every path out. Movable, not
// copyable. The one descriptor wrapper of the code base.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now and says whether close() succeeded: after a write, the error close() can return on
  // some file systems (NFS, quota) is a lost write.
  bool close() { return ::close(std::exchange(fd_, -1)) == 0; }
  void reset() {
    // close() errors on a read-only descriptor carry no data loss; nothing useful to do with them.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace siteplane

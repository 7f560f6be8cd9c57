#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"
#include "dataplane/static/http_date.h"

namespace siteplane::staticfiles {

// One regular file opened for serving, with everything a response needs precomputed: size, strong
// ETag, Last-Modified and Content-Type. Immutable once created and shared (shared_ptr<const>)
// between the file cache and every response streaming it, so the descriptor stays open while any
// response still reads it even after the cache evicted or replaced the entry.
//
// Small files (size <= the cache's in-memory limit) are read whole at creation and their
// descriptor closed: serving them is a memcpy and they cost no descriptor while cached. Larger
// files keep the descriptor and are read with pread at the caller's offset, so concurrent
// responses share one descriptor and no file is ever loaded whole.
//
// Every member function is const and pread is positionless, so an OpenFile may be read from any
// thread, even though the FileCache that hands it out belongs to one worker.
class OpenFile {
 public:
  // Takes `fd`, a regular file opened for reading; `contentType` must point to static storage
  // (contentTypeFor's table). Fails when the file cannot be read or keeps changing while being
  // read into memory.
  static Result<std::shared_ptr<const OpenFile>> create(UniqueFd fd, std::string_view contentType,
                                                        uint64_t maxInMemoryBytes);

  uint64_t size() const { return size_; }
  std::time_t mtime() const { return mtime_.tv_sec; }
  // Strong validator, quoted: "\"<inode>-<size>-<mtime ns>\"" in hex. Changes whenever the file
  // is replaced (inode), rewritten (mtime) or truncated/extended (size).
  std::string_view etag() const { return std::string_view(etag_, etagLength_); }
  // IMF-fixdate of mtime.
  std::string_view lastModified() const {
    return std::string_view(lastModified_, HttpDate::kLength);
  }
  std::string_view contentType() const { return contentType_; }

  // Header lines precomputed once per file, so that a response's headers are one append:
  //   "Content-Type: ...\r\nAccept-Ranges: bytes\r\nETag: ...\r\nLast-Modified: ...\r\n"
  std::string_view representationHeaders() const { return headers_; }
  // The "ETag: ...\r\nLast-Modified: ...\r\n" tail of representationHeaders(), for 304 and 412.
  std::string_view validatorHeaders() const {
    return std::string_view(headers_).substr(validatorsOffset_);
  }

  // True when the whole body is in memory (contents()); false when it is read with read().
  bool inMemory() const { return !fd_.valid(); }
  // The body of an in-memory file. Precondition: inMemory().
  std::string_view contents() const { return contents_; }
  // The descriptor of a streamed file (for sendfile-style callers), -1 when inMemory(). Owned by
  // this object: never close it; hold the shared_ptr for as long as it is used.
  int fd() const { return fd_.get(); }

  // Copies up to `capacity` bytes starting at `offset` into `buffer` (pread for streamed files,
  // memcpy for in-memory ones). Returns the number of bytes copied: 0 means the file ends before
  // `offset`, i.e. it was truncated on disk since it was opened and the caller, having promised
  // Content-Length, must abort the connection. Errors are I/O errors from pread.
  Result<size_t> read(uint64_t offset, char* buffer, size_t capacity) const;

  // Whether `st` (a fresh stat of the same path) still describes this file: same device, inode,
  // size, mtime and ctime (ctime catches chmod/chown, which change who may read it).
  bool matches(const struct stat& st) const;

 private:
  OpenFile() = default;

  UniqueFd fd_;
  std::string contents_;
  uint64_t size_ = 0;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  struct timespec mtime_ = {};
  struct timespec ctime_ = {};
  std::string_view contentType_;
  char etag_[64] = {};
  size_t etagLength_ = 0;
  char lastModified_[HttpDate::kLength] = {};
  std::string headers_;
  size_t validatorsOffset_ = 0;
};

}  // namespace siteplane::staticfiles

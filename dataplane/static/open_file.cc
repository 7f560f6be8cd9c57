#include "dataplane/static/open_file.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace siteplane::staticfiles {
namespace {

// A file rewritten while we read it into memory is retried a few times, then reported: serving a
// mix of old and new bytes under one ETag would poison every cache downstream.
constexpr int kMaxReadAttempts = 3;

bool sameTime(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool sameContentState(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && sameTime(a.st_mtim, b.st_mtim);
}

Status errnoStatus(const char* what) {
  return Status::error(std::string(what) + ": " + std::strerror(errno));
}

// Reads exactly size bytes at offset 0, or fails.
Status readWhole(int fd, std::string& out, size_t size) {
  out.resize(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus("pread");
    }
    if (n == 0) return Status::error("file shrank while being read");
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

}  // namespace

Result<std::shared_ptr<const OpenFile>> OpenFile::create(UniqueFd fd, std::string_view contentType,
                                                         uint64_t maxInMemoryBytes) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errnoStatus("fstat");
  if (!S_ISREG(st.st_mode)) return Status::error("not a regular file");

  std::shared_ptr<OpenFile> file(new OpenFile());
  if (static_cast<uint64_t>(st.st_size) <= maxInMemoryBytes) {
    bool stable = false;
    for (int attempt = 0; attempt < kMaxReadAttempts && !stable; ++attempt) {
      Status status = readWhole(fd.get(), file->contents_, static_cast<size_t>(st.st_size));
      struct stat after {};
      if (::fstat(fd.get(), &after) != 0) return errnoStatus("fstat");
      bool unchanged = sameContentState(st, after);
      // A read error on a file nobody touched is an I/O error, not a race: report it.
      if (!status.isOk() && unchanged) return status;
      // Changed metadata means a writer is active; start over with what the file looks like now.
      stable = status.isOk() && unchanged;
      st = after;
      if (static_cast<uint64_t>(st.st_size) > maxInMemoryBytes) break;
    }
    if (!stable && static_cast<uint64_t>(st.st_size) <= maxInMemoryBytes) {
      return Status::error("file kept changing while being read");
    }
    if (stable) {
      fd.reset();  // the bytes are in memory; the descriptor is no longer needed
    } else {
      file->contents_.clear();  // it grew past the limit: stream it instead
      file->contents_.shrink_to_fit();
    }
  }
  if (fd.valid()) {
    // Streamed files are read front to back: let the kernel read ahead aggressively. Advice only;
    // a failure changes nothing.
    (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    file->fd_ = std::move(fd);
  }

  file->size_ = static_cast<uint64_t>(st.st_size);
  file->device_ = st.st_dev;
  file->inode_ = st.st_ino;
  file->mtime_ = st.st_mtim;
  file->ctime_ = st.st_ctim;
  file->contentType_ = contentType;
  uint64_t mtimeNs = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ULL +
                     static_cast<uint64_t>(st.st_mtim.tv_nsec);
  int length = std::snprintf(file->etag_, sizeof(file->etag_), "\"%llx-%llx-%llx\"",
                             static_cast<unsigned long long>(st.st_ino),
                             static_cast<unsigned long long>(st.st_size),
                             static_cast<unsigned long long>(mtimeNs));
  // Three 64-bit hex numbers, two dashes and two quotes always fit in 64 bytes.
  file->etagLength_ = static_cast<size_t>(length);
  HttpDate::format(st.st_mtim.tv_sec, file->lastModified_);

  std::string& headers = file->headers_;
  headers.reserve(128 + contentType.size());
  headers.append("Content-Type: ").append(contentType).append("\r\n");
  headers.append("Accept-Ranges: bytes\r\n");
  file->validatorsOffset_ = headers.size();
  headers.append("ETag: ").append(file->etag()).append("\r\n");
  headers.append("Last-Modified: ").append(file->lastModified()).append("\r\n");
  return std::shared_ptr<const OpenFile>(std::move(file));
}

Result<size_t> OpenFile::read(uint64_t offset, char* buffer, size_t capacity) const {
  if (inMemory()) {
    if (offset >= contents_.size()) return size_t{0};
    size_t n = std::min<uint64_t>(capacity, contents_.size() - offset);
    std::memcpy(buffer, contents_.data() + offset, n);
    return n;
  }
  while (true) {
    ssize_t n = ::pread(fd_.get(), buffer, capacity, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return errnoStatus("pread");
  }
}

bool OpenFile::matches(const struct stat& st) const {
  return st.st_dev == device_ && st.st_ino == inode_ &&
         static_cast<uint64_t>(st.st_size) == size_ && sameTime(st.st_mtim, mtime_) &&
         sameTime(st.st_ctim, ctime_);
}

}  // namespace siteplane::staticfiles

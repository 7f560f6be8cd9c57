#include "dataplane/http/chunked_scanner.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "dataplane/http/token_chars.h"

namespace siteplane::http {
namespace {

int hexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Neither CR, LF nor another control character (HTAB is allowed): what a chunk extension or a
// trailer value may hold.
bool isFieldByte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

}  // namespace

ChunkedScanner::Result ChunkedScanner::scan(const char* data, size_t length) noexcept {
  scanned_ = 0;
  if (state_ == State::kEnd) return Result::kEnd;
  if (state_ == State::kInvalid) return Result::kInvalid;
  size_t i = 0;
  while (i < length) {
    if (state_ == State::kData) {
      // The data itself is opaque: skip it in one step.
      const uint64_t take = std::min<uint64_t>(remaining_, length - i);
      i += static_cast<size_t>(take);
      remaining_ -= take;
      if (remaining_ == 0) state_ = State::kDataCR;
      continue;
    }
    step(static_cast<unsigned char>(data[i]));
    if (state_ == State::kInvalid) break;
    ++i;
    if (state_ == State::kEnd) {
      scanned_ = i;
      return Result::kEnd;
    }
  }
  scanned_ = i;
  return state_ == State::kInvalid ? Result::kInvalid : Result::kMore;
}

void ChunkedScanner::step(unsigned char c) noexcept {
  switch (state_) {
    case State::kSizeStart:
    case State::kSize:
      stepSize(c);
      break;
    case State::kSizeBws:
      // §7.1.1: BWS only before the ';' of an extension.
      if (c == ';') {
        state_ = State::kExtension;
      } else if (c != ' ' && c != '\t') {
        state_ = State::kInvalid;
      }
      break;
    case State::kExtension:
      if (c == '\r') {
        state_ = State::kSizeLF;
      } else if (!isFieldByte(c)) {
        state_ = State::kInvalid;
      }
      break;
    case State::kSizeLF:
      if (c != '\n') {
        state_ = State::kInvalid;
      } else {
        state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
      }
      break;
    case State::kDataCR:
      state_ = c == '\r' ? State::kDataLF : State::kInvalid;
      break;
    case State::kDataLF:
      state_ = c == '\n' ? State::kSizeStart : State::kInvalid;
      break;
    case State::kTrailerStart:
    case State::kTrailerName:
    case State::kTrailerValue:
    case State::kTrailerLF:
    case State::kFinalLF:
      stepTrailer(c);
      break;
    case State::kData:
    case State::kEnd:
    case State::kInvalid:
      break;
  }
}

void ChunkedScanner::stepSize(unsigned char c) noexcept {
  const int digit = hexValue(c);
  if (digit >= 0) {
    // 15 hex digits already exceed any body limit; http-parser refuses an overflow too.
    if (remaining_ > (UINT64_MAX >> 4)) {
      state_ = State::kInvalid;
      return;
    }
    remaining_ = (remaining_ << 4) | static_cast<uint64_t>(digit);
    state_ = State::kSize;
  } else if (state_ == State::kSizeStart) {
    state_ = State::kInvalid;
  } else if (c == '\r') {
    state_ = State::kSizeLF;
  } else if (c == ';') {
    state_ = State::kExtension;
  } else if (c == ' ' || c == '\t') {
    state_ = State::kSizeBws;
  } else {
    state_ = State::kInvalid;
  }
}

void ChunkedScanner::stepTrailer(unsigned char c) noexcept {
  switch (state_) {
    case State::kTrailerStart:
      if (c == '\r') {
        state_ = State::kFinalLF;
      } else if (isTchar(c)) {
        state_ = State::kTrailerName;
        trailerNameLength_ = 0;
        appendTrailerName(c);
      } else {
        state_ = State::kInvalid;
      }
      break;
    case State::kTrailerName:
      if (c == ':') {
        state_ = forbiddenInTrailers() ? State::kInvalid : State::kTrailerValue;
      } else if (isTchar(c)) {
        appendTrailerName(c);
      } else {
        state_ = State::kInvalid;
      }
      break;
    case State::kTrailerValue:
      if (c == '\r') {
        state_ = State::kTrailerLF;
      } else if (!isFieldByte(c)) {
        state_ = State::kInvalid;
      }
      break;
    case State::kTrailerLF:
      state_ = c == '\n' ? State::kTrailerStart : State::kInvalid;
      break;
    case State::kFinalLF:
      state_ = c == '\n' ? State::kEnd : State::kInvalid;
      break;
    default:
      break;
  }
}

void ChunkedScanner::appendTrailerName(unsigned char c) noexcept {
  // Past the longest forbidden name the rest does not matter: the name is allowed.
  if (trailerNameLength_ < sizeof trailerName_)
    trailerName_[trailerNameLength_] = static_cast<char>(std::tolower(c));
  if (trailerNameLength_ <= sizeof trailerName_) ++trailerNameLength_;
}

bool ChunkedScanner::forbiddenInTrailers() const noexcept {
  if (trailerNameLength_ > sizeof trailerName_) return false;
  const std::string_view name(trailerName_, trailerNameLength_);
  return name == "transfer-encoding" || name == "content-length" || name == "host";
}

}  // namespace siteplane::http

#pragma once

// The framing of a chunked request body (RFC 9112 §7.1), checked strictly. http-parser 2.9 built
// non-strict takes any two bytes after a chunk's data as its CRLF, any byte after a chunk size's
// CR as its LF, a bare LF inside a chunk extension, and bare LF, obs-fold and whitespace before
// the colon in the trailer section. A proxy in front that frames the same bytes strictly sees a
// different body end, and the bytes between become a smuggled request; so each is refused (400).
//
// Framing and routing fields in the trailer section (Transfer-Encoding, Content-Length, Host) are
// refused too: RFC 9110 §6.5.1 forbids sending them there, and http-parser takes a
// Transfer-Encoding trailer as framing again, ending the message or not depending on how the
// bytes arrived.
//
// The scanner follows the chunk sizes itself, sees the body's bytes before http-parser does and
// stops after the empty line that ends the trailer section. It keeps its state across calls.

#include <cstddef>
#include <cstdint>

namespace siteplane::http {

class ChunkedScanner {
 public:
  enum class Result {
    kMore,     // every byte was scanned and is valid; the body continues
    kEnd,      // the body (trailers included) ended; bytes beyond `scanned()` are the next request
    kInvalid,  // the byte at `scanned()` breaks the framing
  };

  Result scan(const char* data, size_t length) noexcept;
  size_t scanned() const { return scanned_; }
  void reset() noexcept {
    state_ = State::kSizeStart;
    remaining_ = 0;
    scanned_ = 0;
  }

 private:
  enum class State : unsigned char {
    kSizeStart,     // first hex digit of a chunk size
    kSize,          // more hex digits
    kSizeBws,       // whitespace after the size: only a chunk extension may follow
    kExtension,     // after ';' up to CR
    kSizeLF,        // LF ending the chunk-size line
    kData,          // remaining_ bytes of chunk data
    kDataCR,        // CR after the data
    kDataLF,        // LF after the data
    kTrailerStart,  // first byte of a trailer field line, or of the final empty line
    kTrailerName,
    kTrailerValue,
    kTrailerLF,  // LF ending a trailer field line
    kFinalLF,    // LF of the final empty line
    kEnd,
    kInvalid,
  };

  // One byte of the framing (not chunk data): the next state, kInvalid on a byte that breaks it.
  void step(unsigned char c) noexcept;
  void stepSize(unsigned char c) noexcept;     // the chunk-size digits
  void stepTrailer(unsigned char c) noexcept;  // the trailer section and the final CRLF

  void appendTrailerName(unsigned char c) noexcept;
  bool forbiddenInTrailers() const noexcept;

  State state_ = State::kSizeStart;
  uint64_t remaining_ = 0;  // the chunk size while reading it, then the data bytes left
  size_t scanned_ = 0;
  // The current trailer field's name, lower-case, as far as the longest forbidden one; a length
  // above the buffer's size means longer than that.
  char trailerName_[17] = {};
  uint8_t trailerNameLength_ = 0;
};

}  // namespace siteplane::http

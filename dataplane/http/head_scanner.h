#pragma once

// The byte-level syntax of a request head (request line and header field lines, RFC 9112 §2-§5)
// that http-parser 2.9 built non-strict, as Debian ships it, lets through: whitespace between a
// field name and its colon (the parser still recognises "Transfer-Encoding : chunked"), bare LF
// and bare CR line ends, obs-fold and whitespace-led lines, control characters in the request line
// or a field value. Each is a way for two HTTP implementations on one path (a proxy in front, us
// behind) to disagree about where a header or a request ends, so each is refused with 400.
//
// The scanner sees the head's bytes before http-parser does and stops after the empty line that
// ends the head; body bytes are never scanned. It keeps its state across calls, so a head may
// arrive in any number of pieces.

#include <cstddef>

namespace siteplane::http {

class HeadScanner {
 public:
  enum class Result {
    kMore,     // every byte was scanned and is valid; the head continues
    kEnd,      // the head ended; bytes beyond `scanned()` belong to the body or the next request
    kInvalid,  // the byte at `scanned()` breaks the syntax
  };

  // Scans up to the end of the head. After kEnd or kInvalid, further calls return the same.
  Result scan(const char* data, size_t length) noexcept;
  // Bytes of the last scan() call that were accepted (up to and including the head's last LF).
  size_t scanned() const { return scanned_; }
  // Ready for the next request's head.
  void reset() noexcept {
    state_ = State::kStart;
    scanned_ = 0;
  }

 private:
  enum class State : unsigned char {
    kStart,        // before the request line: empty lines (CRLF) may precede it
    kStartCR,      // CR of an empty line before the request line
    kRequestLine,  // inside the request line
    kLineCR,       // CR that ends the request line or a field line
    kLineStart,    // first byte of a field line, or of the empty line ending the head
    kName,         // inside a field name
    kValue,        // after the colon, inside the field value
    kFinalCR,      // CR of the empty line ending the head
    kEnd,
    kInvalid,
  };

  State state_ = State::kStart;
  size_t scanned_ = 0;
};

}  // namespace siteplane::http

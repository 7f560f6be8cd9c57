#include "dataplane/http/head_scanner.h"

#include <array>

#include "dataplane/http/token_chars.h"

namespace siteplane::http {
namespace {

// What a byte can be in a request head.
enum Class : unsigned char {
  kTchar,  // RFC 9110 §5.6.2 tchar: may appear in a field name (and a value, a request line)
  kSpace,  // SP
  kTab,    // HTAB
  kCR,
  kLF,
  kColon,
  kVisible,  // other VCHAR (delimiters like "(),/;<=>?@[\]{}) and obs-text (0x80-0xFF)
  kControl,  // NUL, other CTLs, DEL
};

constexpr std::array<Class, 256> makeClasses() {
  std::array<Class, 256> classes{};
  for (int c = 0; c < 256; ++c) {
    Class value = kVisible;
    if (c < 0x20 || c == 0x7f) value = kControl;
    if (isTchar(static_cast<unsigned char>(c))) value = kTchar;
    switch (c) {
      case ' ':
        value = kSpace;
        break;
      case '\t':
        value = kTab;
        break;
      case '\r':
        value = kCR;
        break;
      case '\n':
        value = kLF;
        break;
      case ':':
        value = kColon;
        break;
      default:
        break;
    }
    classes[static_cast<size_t>(c)] = value;
  }
  return classes;
}

constexpr std::array<Class, 256> kClasses = makeClasses();

}  // namespace

HeadScanner::Result HeadScanner::scan(const char* data, size_t length) noexcept {
  scanned_ = 0;
  if (state_ == State::kEnd) return Result::kEnd;
  if (state_ == State::kInvalid) return Result::kInvalid;
  State state = state_;
  size_t i = 0;
  for (; i < length; ++i) {
    const Class c = kClasses[static_cast<unsigned char>(data[i])];
    switch (state) {
      case State::kStart:
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
        if (c == kCR) {
          state = State::kStartCR;
        } else if (c == kLF || c == kControl || c == kSpace || c == kTab) {
          state = State::kInvalid;
        } else {
          state = State::kRequestLine;
        }
        break;
      case State::kStartCR:
        state = c == kLF ? State::kStart : State::kInvalid;
        break;
      case State::kRequestLine:
        // http-parser (non-strict) accepts HT and FF inside the target; RFC 9112 §3 has only SP.
        if (c == kCR) {
          state = State::kLineCR;
        } else if (c == kLF || c == kControl || c == kTab) {
          state = State::kInvalid;
        }
        break;
      case State::kLineCR:
        // §2.2: a bare CR MUST be treated as invalid; a bare LF is only a MAY, and lets a field
        // line hide inside what a CRLF-only proxy saw as one value.
        state = c == kLF ? State::kLineStart : State::kInvalid;
        break;
      case State::kLineStart:
        if (c == kCR) {
          state = State::kFinalCR;
        } else if (c == kTchar) {
          state = State::kName;
        } else {
          // SP/HT: obs-fold (§5.2) or whitespace before the first field line (§2.2); ':' an empty
          // name; anything else is not a field name.
          state = State::kInvalid;
        }
        break;
      case State::kName:
        if (c == kColon) {
          state = State::kValue;
        } else if (c != kTchar) {
          // §5.1: no whitespace is allowed between the field name and colon; a server MUST
          // respond 400.
          state = State::kInvalid;
        }
        break;
      case State::kValue:
        // RFC 9110 §5.5: CR, LF and NUL in a value MUST be refused (or replaced); the other CTLs
        // are not field-vchar either.
        if (c == kCR) {
          state = State::kLineCR;
        } else if (c == kLF || c == kControl) {
          state = State::kInvalid;
        }
        break;
      case State::kFinalCR:
        if (c == kLF) {
          state_ = State::kEnd;
          scanned_ = i + 1;
          return Result::kEnd;
        }
        state = State::kInvalid;
        break;
      case State::kEnd:
      case State::kInvalid:
        break;
    }
    if (state == State::kInvalid) break;
  }
  state_ = state;
  scanned_ = i;
  return state == State::kInvalid ? Result::kInvalid : Result::kMore;
}

}  // namespace siteplane::http

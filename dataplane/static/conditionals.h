#pragma once

// The conditional and range request headers of RFC 9110 (sections 13 and 14), for GET/HEAD of a
// static representation with a strong ETag and a Last-Modified date.

#include <cstdint>
#include <ctime>
#include <string_view>

namespace siteplane::staticfiles {

// If-Match: true when the list contains `etag` under the strong comparison (a "W/" tag never
// matches), or is "*" (the file exists). False means 412 Precondition Failed. A malformed list
// matches nothing: a client that asked for a precondition gets 412 rather than an unchecked write
// of its assumptions.
bool ifMatchMatches(std::string_view headerValue, std::string_view etag);

// If-Unmodified-Since: true when the file was not modified after the date. An invalid date is
// ignored (true), as RFC 9110 requires. False means 412 Precondition Failed.
bool unmodifiedSince(std::string_view headerValue, std::time_t mtime);

// If-None-Match: true when the list ("\"a\", W/\"b\"") contains `etag` under the weak comparison
// (a "W/" prefix is ignored on both sides), or is "*". A malformed list matches nothing, so the
// request is answered in full rather than wrongly with 304.
bool ifNoneMatchMatches(std::string_view headerValue, std::string_view etag);

// If-Modified-Since: true when the field is a valid HTTP-date and the file was last modified at
// or before it (so 304 is right). An invalid date is ignored (false), as RFC 9110 requires.
bool notModifiedSince(std::string_view headerValue, std::time_t mtime);

// If-Range: true when the validator still matches, so the Range header applies. An entity tag
// must be strong and equal (strong comparison; a weak tag never matches); a date must equal
// Last-Modified exactly.
bool ifRangeMatches(std::string_view headerValue, std::string_view etag, std::time_t mtime);

// The single byte range a Range header selects from a representation of `size` bytes.
struct ByteRange {
  enum class Kind {
    kIgnore,         // absent, malformed, another unit, or several ranges: answer 200 in full
    kSatisfiable,    // answer 206 with bytes first..last (inclusive)
    kUnsatisfiable,  // answer 416 with "Content-Range: bytes */size"
  };
  Kind kind = Kind::kIgnore;
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

// Parses "bytes=a-b", "bytes=a-" and "bytes=-n" (unit case-insensitive, one range). Several
// ranges are answered with the whole representation, which RFC 9110 allows and which avoids
// multipart/byteranges amplification attacks.
ByteRange parseRange(std::string_view headerValue, uint64_t size);

}  // namespace siteplane::staticfiles

#pragma once

#include <string>
#include <string_view>

namespace siteplane::staticfiles {

// Whether path segments starting with "." ("/.git/config", "/.env") are served. They usually hold
// things that were never meant to be published, so the default denies them with 404 (not 403, so
// a probe learns nothing about their existence). "/.well-known/" (RFC 8615: ACME challenges,
// security.txt) is always allowed.
enum class DotfilePolicy { kDeny, kAllow };

// The outcome of decoding a request-target: status 0 on success, otherwise the HTTP status to
// answer (400 malformed, 403 traversal, 404 hidden) and a short reason for the access log.
struct PathCheck {
  int status = 0;
  std::string_view reason;
  bool ok() const { return status == 0; }
};

// Percent-decodes and normalizes the path of a request-target (origin-form, query already removed)
// into `out`, which is cleared first and reused by the caller so that a warm buffer never
// allocates. The result starts with "/", has no empty, "." or ".." segments, and ends with "/"
// exactly when the request named a directory ("/docs/", "/docs/.").
//
// Decoding happens before the path is split, so an encoded slash ("%2F") separates segments like
// a plain one and "%2e%2e%2f" is seen as the ".." it is. Refused:
//   - 400: not starting with "/", a raw space or control character, a malformed escape ("%", "%4",
//   "%zz"), NUL raw or as "%00";
//   - 403: a ".." segment (never resolved against the root, even when it would stay inside) and
//          any backslash, raw or "%5C" (a path separator on other systems and in many proxies);
//   - 404: a dot segment under DotfilePolicy::kDeny, except ".well-known".
PathCheck decodeRequestPath(std::string_view target, DotfilePolicy policy, std::string& out);

}  // namespace siteplane::staticfiles

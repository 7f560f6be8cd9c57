#include "dataplane/static/static_handler.h"

#include <charconv>

#include "dataplane/static/conditionals.h"

namespace siteplane::staticfiles {
namespace {

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

void appendNumber(std::string& out, uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

StaticResponse error(int status, std::string_view reason) {
  StaticResponse response;
  response.status = status;
  response.reason = reason;
  return response;
}

}  // namespace

void StaticResponse::appendHeaders(std::string& out) const {
  switch (status) {
    case 200:
    case 206:
      out.append("Content-Length: ");
      appendNumber(out, length);
      out.append("\r\n");
      if (status == 206) {
        out.append("Content-Range: bytes ");
        appendNumber(out, offset);
        out.push_back('-');
        appendNumber(out, offset + length - 1);
        out.push_back('/');
        appendNumber(out, file->size());
        out.append("\r\n");
      }
      out.append(file->representationHeaders());
      break;
    case 304:
    case 412:
      out.append(file->validatorHeaders());
      break;
    case 301:
      appendHeader(out, "Location", location);
      break;
    case 405:
      appendHeader(out, "Allow", "GET, HEAD");
      break;
    case 416:
      out.append("Content-Range: bytes */");
      appendNumber(out, file->size());
      out.append("\r\nAccept-Ranges: bytes\r\n");
      break;
    default:
      break;
  }
}

StaticHandler::StaticHandler(StaticHandlerOptions options, FileCache::Clock clock)
    : dotfiles_(options.dotfiles), cache_(std::move(options.cache), std::move(clock)) {}

StaticResponse StaticHandler::handle(const StaticRequest& request,
                                     const std::filesystem::path& root) {
  bool isGet = request.method == "GET";
  if (!isGet && request.method != "HEAD") return error(405, "method not allowed");

  PathCheck check = decodeRequestPath(request.target, dotfiles_, decoded_);
  if (!check.ok()) return error(check.status, check.reason);

  FileCache::Lookup lookup = cache_.find(root, decoded_);
  if (lookup.status == 301) {
    StaticResponse response = error(301, lookup.reason);
    response.location.reserve(request.target.size() + 1);
    response.location.append(request.target);
    response.location.push_back('/');
    return response;
  }
  if (lookup.status != 0) return error(lookup.status, lookup.reason);

  StaticResponse response;
  response.file = std::move(lookup.file);
  const OpenFile& file = *response.file;

  // RFC 9110 13.2.2: If-Match, when present, decides alone; If-Unmodified-Since only without it.
  bool preconditionFailed = !request.ifMatch.empty()
                                ? !ifMatchMatches(request.ifMatch, file.etag())
                                : !request.ifUnmodifiedSince.empty() &&
                                      !unmodifiedSince(request.ifUnmodifiedSince, file.mtime());
  if (preconditionFailed) {
    response.status = 412;
    response.reason = "precondition failed";
    return response;
  }

  // If-None-Match, when present, decides alone; If-Modified-Since only without it.
  bool notModified = !request.ifNoneMatch.empty()
                         ? ifNoneMatchMatches(request.ifNoneMatch, file.etag())
                         : !request.ifModifiedSince.empty() &&
                               notModifiedSince(request.ifModifiedSince, file.mtime());
  if (notModified) {
    response.status = 304;
    response.reason = "not modified";
    return response;
  }

  response.status = 200;
  response.reason = "ok";
  response.offset = 0;
  response.length = file.size();
  response.sendBody = isGet;

  // Range is defined for GET only (RFC 9110 14.2); If-Range that no longer matches means "send
  // the whole new representation".
  if (isGet && !request.range.empty() &&
      (request.ifRange.empty() || ifRangeMatches(request.ifRange, file.etag(), file.mtime()))) {
    ByteRange range = parseRange(request.range, file.size());
    if (range.kind == ByteRange::Kind::kSatisfiable) {
      response.status = 206;
      response.reason = "partial content";
      response.offset = range.first;
      response.length = range.length();
    } else if (range.kind == ByteRange::Kind::kUnsatisfiable) {
      response.status = 416;
      response.reason = "range not satisfiable";
      response.length = 0;
      response.sendBody = false;
    }
  }
  return response;
}

}  // namespace siteplane::staticfiles

// Fuzz target: the HTTP/1.1 request parser (dataplane/http/request_parser), driven as
// HttpConnection drives it — feed, answer a complete request, reset, feed the pipelined rest.
//
// Beyond "no crash": the outcome must not depend on how TCP split the bytes. The same input is
// parsed in one piece, one byte at a time and in irregular chunks, and the three transcripts
// (every request with its method, target, headers and body, then the error or the unfinished
// state) must be identical — a parser whose answer changes with the segmentation is a smuggling
// vector. Each parsed request is also checked against what the parser promises its callers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/http/request_parser.h"
#include "fuzz/fuzz_check.h"

namespace {

using siteplane::http::Request;
using siteplane::http::RequestParser;

// Small limits so that 431 and 413 are reachable within -max_len; the data plane's are larger
// but take the same code paths.
constexpr size_t kMaxHeaderBytes = 1024;
constexpr size_t kMaxBodyBytes = 2048;
// A connection serves at most this many pipelined requests per input: enough to reach the
// reset() paths, bounded so a run of tiny requests stays fast.
constexpr int kMaxRequests = 64;

enum class Split { kWhole, kBytes, kIrregular };

bool within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void checkRequest(const Request& request) {
  FUZZ_CHECK(request.body.size() <= kMaxBodyBytes, "body above the limit");
  FUZZ_CHECK(!request.methodName.empty(), "method name");
  size_t headerBytes = request.target.size();
  for (const auto& header : request.headers)
    headerBytes += header.name.size() + header.value.size();
  FUZZ_CHECK(headerBytes <= kMaxHeaderBytes, "header bytes above the limit");
  // path, query and (for absolute-form) host are views into the target; an absolute-form
  // target without a path ("http://host") has the path "/".
  FUZZ_CHECK(within(request.path, request.target) || request.path == "/",
             "path outside the target");
  FUZZ_CHECK(within(request.query, request.target), "query outside the target");
  if (request.hasHost && !within(request.host, request.target)) {
    bool fromHeader = false;
    for (const auto& header : request.headers)
      if (header.value.data() == request.host.data() && header.value.size() == request.host.size())
        fromHeader = true;
    FUZZ_CHECK(fromHeader, "host is neither the target's authority nor a header value");
  }
  FUZZ_CHECK(request.path.find('?') == std::string_view::npos, "path contains '?'");
}

void describe(const Request& request, std::string& out) {
  out += "request ";
  out += request.methodName;
  out += ' ';
  out += request.target;
  out += "\n path=";
  out += request.path;
  out += " query=";
  out += request.query;
  out += " host=";
  out += request.host;
  out += request.hasHost ? " hasHost" : "";
  out += " version=" + std::to_string(request.versionMajor) + "." +
         std::to_string(request.versionMinor);
  out += request.keepAlive ? " keepAlive" : "";
  out += request.upgrade ? " upgrade" : "";
  out += '\n';
  for (const auto& header : request.headers) {
    out += ' ';
    out += header.name;
    out += ": ";
    out += header.value;
    out += '\n';
  }
  out += " body=" + std::to_string(request.body.size()) + ":";
  out += request.body;
  out += '\n';
}

// Everything a connection would see of `input` when it arrives split as `split` says.
std::string transcript(std::string_view input, Split split) {
  RequestParser parser(kMaxHeaderBytes, kMaxBodyBytes);
  std::string out;
  size_t at = 0;
  uint32_t state = static_cast<uint32_t>(input.size()) * 2654435761u + 1;
  int requests = 0;
  // Bytes still to arrive; `window` is what the current read delivered (a connection keeps the
  // unconsumed part of a read and feeds it after the response, as HttpConnection::parse does).
  size_t windowEnd = 0;
  while (at < input.size() && requests < kMaxRequests) {
    if (at == windowEnd) {
      size_t chunk = input.size() - at;
      if (split == Split::kBytes) chunk = 1;
      if (split == Split::kIrregular) {
        state = state * 1103515245u + 12345u;
        chunk = std::min<size_t>(chunk, 1 + (state >> 16) % 97);
      }
      windowEnd = at + chunk;
    }
    size_t consumed = parser.feed(input.data() + at, windowEnd - at);
    FUZZ_CHECK(consumed <= windowEnd - at, "consumed more than it was given");
    at += consumed;
    if (parser.error() != RequestParser::Error::kNone) {
      out += "error " + std::to_string(static_cast<int>(parser.error())) + "\n";
      return out;
    }
    if (!parser.complete()) {
      // Without a request or an error the parser must have taken the whole read.
      FUZZ_CHECK(at == windowEnd, "stopped early without a request or error");
      continue;
    }
    const Request& request = parser.request();
    FUZZ_CHECK(parser.headersComplete(), "complete before the headers");
    checkRequest(request);
    describe(request, out);
    ++requests;
    // The connection refuses an upgrade and closes after Connection: close; bytes after either
    // are never parsed.
    if (request.upgrade || !request.keepAlive) return out;
    parser.reset();
    FUZZ_CHECK(!parser.started() && !parser.complete(), "reset keeps state");
  }
  if (requests < kMaxRequests) {
    out += parser.started() ? "unfinished" : "idle";
    out += parser.headersComplete() ? " headers-complete\n" : "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string whole = transcript(input, Split::kWhole);
  std::string bytes = transcript(input, Split::kBytes);
  FUZZ_CHECK(whole == bytes, "one piece:\n" + whole + "byte by byte:\n" + bytes);
  std::string irregular = transcript(input, Split::kIrregular);
  FUZZ_CHECK(whole == irregular, "one piece:\n" + whole + "in chunks:\n" + irregular);
  return 0;
}

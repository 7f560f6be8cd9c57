#pragma once

// HTTPS requests for the ACME client, over libcurl: the status, the headers ACME reads
// (Replay-Nonce, Location, Link, Retry-After, Content-Type) and the body. The server's certificate
// is verified against the system roots, or only against `caBundle` (PEM) when one is given: there
// is no switch that turns verification off. Redirects are not followed and only https is spoken.
//
// Thread-safety: any thread; each call has its own libcurl handle.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace siteplane::acme {

struct HttpsResponse {
  long status = 0;
  // Lower-case names; a header sent several times (Link) has several values, in order.
  std::map<std::string, std::vector<std::string>> headers;
  std::string body;

  // The first value of `name` (lower case), "" when absent.
  const std::string& header(const std::string& name) const;
};

struct HttpsTransportOptions {
  std::string caBundle;  // PEM; empty: the system's roots
  std::chrono::seconds timeout{30};
  std::chrono::seconds connectTimeout{10};
  // ACME answers are small (a chain of a few certificates); a larger one is refused.
  size_t maxResponseBytes = size_t{4} << 20;
  std::string userAgent = "siteplane-acme";
};

class HttpsTransport {
 public:
  explicit HttpsTransport(HttpsTransportOptions options) : options_(std::move(options)) {}

  // Transport failures (DNS, connect, TLS verification, timeout, an answer too large) are errors
  // with kUnavailable; any HTTP answer, 4xx and 5xx included, is a response.
  Result<HttpsResponse> get(const std::string& url) const;
  Result<HttpsResponse> head(const std::string& url) const;
  Result<HttpsResponse> post(const std::string& url, const std::string& body,
                             const std::string& contentType) const;

 private:
  Result<HttpsResponse> perform(const char* method, const std::string& url, const std::string* body,
                                const std::string& contentType) const;

  const HttpsTransportOptions options_;
};

}  // namespace siteplane::acme

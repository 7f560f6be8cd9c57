#pragma once

// A small blocking HTTPS/1.1 client for the CLI: one TLS connection per request, the server
// verified against the CA from the kubeconfig (and its name or IP against the certificate), the
// whole response read into memory. The CLI makes a handful of requests per command, so there is no
// connection reuse and no event loop.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

namespace siteplane::cli {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, already percent-encoded
  std::map<std::string, std::string> headers;
  std::string body;
};

class HttpsClient {
 public:
  // `serverUrl` is "https://host:port" (a path prefix is not supported); `caPem` the trusted CA
  // bundle. Fails on a malformed URL or unusable CA data.
  static Result<std::unique_ptr<HttpsClient>> create(const std::string& serverUrl,
                                                     const std::string& caPem,
                                                     std::chrono::milliseconds timeout);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request and reads the whole response. Errors name the server and what failed
  // (connect, TLS verification, timeout, malformed response).
  Result<HttpResponse> send(const HttpRequest& request) const;

  const std::string& serverUrl() const { return serverUrl_; }

  class Context;

 private:
  HttpsClient(std::string serverUrl, std::string host, std::string port,
              std::unique_ptr<Context> context, std::chrono::milliseconds timeout);

  std::string serverUrl_;
  std::string host_;
  std::string port_;
  std::unique_ptr<Context> context_;
  std::chrono::milliseconds timeout_;
};

}  // namespace siteplane::cli

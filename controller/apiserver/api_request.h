#pragma once

// The transport-independent shape of one API request and its response. The HTTPS transport fills
// an ApiRequest from the wire and writes an ApiResponse back; tests build them directly, so every
// behaviour of the API can be exercised without sockets.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace siteplane::apiserver {

// Header names compare case-insensitively, as HTTP says.
struct HeaderNameLess {
  bool operator()(std::string_view a, std::string_view b) const;
};
using Headers = std::map<std::string, std::string, HeaderNameLess>;

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded, without the query
  std::multimap<std::string, std::string> query;
  Headers headers;
  std::string body;
  std::string remoteAddress;  // "127.0.0.1:53412", for logs; empty in tests

  // Splits "path?query" and percent-decodes both parts ('+' in a query means a space).
  static ApiRequest make(std::string method, std::string_view target, std::string body = "",
                         Headers headers = {});

  // The first value of query parameter `name`, if present.
  std::optional<std::string> param(const std::string& name) const;
  // True for "1"/"true" (Kubernetes accepts both for watch and other booleans).
  bool flag(const std::string& name) const;
  std::string header(const std::string& name) const;
};

struct ApiResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Warning
};

// One media range of an Accept or Content-Type header: "application/json;as=Table;v=v1".
struct MediaType {
  std::string type;  // lower-cased "application/json"
  std::map<std::string, std::string> params;

  std::string param(const std::string& name) const;
};

// Parses a comma-separated Accept header (or a single Content-Type) into its media ranges.
std::vector<MediaType> parseMediaTypes(std::string_view header);

std::string percentDecode(std::string_view text, bool plusIsSpace);

}  // namespace siteplane::apiserver

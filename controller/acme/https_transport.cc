#include "controller/acme/https_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "common/ascii.h"
#include "common/curl_global.h"

namespace siteplane::acme {
namespace {

struct CurlFree {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Headers are bounded like the body: a server cannot make the client hold more than this.
constexpr size_t kMaxHeaderBytes = 64 * 1024;

struct Collected {
  HttpsResponse response;
  size_t headerBytes = 0;
  size_t maxBody = 0;
  bool tooLarge = false;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* collected = static_cast<Collected*>(user);
  const size_t length = size * count;
  if (collected->response.body.size() + length > collected->maxBody) {
    collected->tooLarge = true;
    return 0;  // ends the transfer (CURLE_WRITE_ERROR)
  }
  collected->response.body.append(data, length);
  return length;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return std::string(text);
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* collected = static_cast<Collected*>(user);
  const size_t length = size * count;
  collected->headerBytes += length;
  if (collected->headerBytes > kMaxHeaderBytes) {
    collected->tooLarge = true;
    return 0;
  }
  std::string_view line(data, length);
  // A status line starts the headers of a response (a 100 Continue may come first).
  if (line.rfind("HTTP/", 0) == 0) {
    collected->response.headers.clear();
    return length;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return length;
  std::string name = toLowerAscii(line.substr(0, colon));
  collected->response.headers[name].push_back(trimmed(line.substr(colon + 1)));
  return length;
}

}  // namespace

const std::string& HttpsResponse::header(const std::string& name) const {
  static const std::string kNone;
  auto found = headers.find(name);
  return found == headers.end() || found->second.empty() ? kNone : found->second.front();
}

Result<HttpsResponse> HttpsTransport::get(const std::string& url) const {
  return perform("GET", url, nullptr, "");
}

Result<HttpsResponse> HttpsTransport::head(const std::string& url) const {
  return perform("HEAD", url, nullptr, "");
}

Result<HttpsResponse> HttpsTransport::post(const std::string& url, const std::string& body,
                                           const std::string& contentType) const {
  return perform("POST", url, &body, contentType);
}

Result<HttpsResponse> HttpsTransport::perform(const char* method, const std::string& url,
                                              const std::string* body,
                                              const std::string& contentType) const {
  initCurlOnce();
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return Status::error(ErrorCode::kUnavailable, "cannot create a libcurl handle");
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT,
                   static_cast<long>(options_.connectTimeout.count()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(handle, CURLOPT_USERAGENT, options_.userAgent.c_str());
  if (!options_.caBundle.empty()) {
    curl_blob ca{const_cast<char*>(options_.caBundle.data()), options_.caBundle.size(),
                 CURL_BLOB_COPY};
    curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &ca);
  }
  std::unique_ptr<curl_slist, CurlFree> headers;
  if (std::string_view(method) == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (body) {
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    headers.reset(curl_slist_append(nullptr, ("Content-Type: " + contentType).c_str()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  }
  Collected collected;
  collected.maxBody = options_.maxResponseBytes;
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &collected);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &collected);

  CURLcode result = curl_easy_perform(handle);
  if (collected.tooLarge)
    return Status::error(ErrorCode::kUnavailable,
                         std::string(method) + " " + url + ": the answer is too large");
  if (result != CURLE_OK)
    return Status::error(ErrorCode::kUnavailable,
                         std::string(method) + " " + url + ": " + curl_easy_strerror(result));
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &collected.response.status);
  return std::move(collected.response);
}

}  // namespace siteplane::acme

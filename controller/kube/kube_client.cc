#include "controller/kube/kube_client.h"

#include <curl/curl.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "common/curl_global.h"
#include "common/durable_file.h"
#include "common/json_bounds.h"
#include "common/json_fields.h"

namespace siteplane::kube {

namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// What one transfer writes into and checks: the body (or the line splitter), the cancel flag.
struct Transfer {
  const std::atomic<bool>* cancelled = nullptr;
  std::string body;
  const std::function<bool(std::string_view)>* onLine = nullptr;
  bool stoppedByCaller = false;
  // What body may hold: the whole answer, or for a watch the line not yet complete.
  size_t limit = 0;
  bool tooLarge = false;
  long status = 0;
  CURL* curl = nullptr;
};

size_t onData(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t length = size * count;
  if (transfer->body.size() + length > transfer->limit) {
    transfer->tooLarge = true;
    return 0;  // ends the transfer (CURLE_WRITE_ERROR)
  }
  transfer->body.append(data, length);
  if (!transfer->onLine) return length;
  if (transfer->status == 0)
    curl_easy_getinfo(transfer->curl, CURLINFO_RESPONSE_CODE, &transfer->status);
  // A failed watch answers with one Status object: keep it whole for the error message.
  if (transfer->status != 200) return length;
  size_t start = 0;
  for (size_t end; (end = transfer->body.find('\n', start)) != std::string::npos; start = end + 1) {
    if (end > start &&
        !(*transfer->onLine)(std::string_view(transfer->body).substr(start, end - start))) {
      transfer->stoppedByCaller = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR)
    }
  }
  transfer->body.erase(0, start);
  return length;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->cancelled->load() ? 1 : 0;
}

ErrorCode codeOfHttpStatus(long status) {
  switch (status) {
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kConflict;
    case 410:
      return ErrorCode::kExpired;
    case 422:
      return ErrorCode::kInvalid;
    default:
      return status >= 500 || status == 429 ? ErrorCode::kUnavailable : ErrorCode::kUnspecified;
  }
}

curl_blob blobOf(const std::string& pem) {
  return curl_blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_NOCOPY};
}

}  // namespace

std::string statusMessage(const std::string& body) {
  auto parsed = parseJsonBounded(body, "the answer", 64);
  std::string message = parsed ? stringMember(*parsed, "message") : "";
  return message.empty() ? body.substr(0, 200) : message;
}

Result<std::unique_ptr<KubeClient>> KubeClient::create(KubeConfig config) {
  initCurlOnce();
  if (config.server.empty()) return Status::error("Kubernetes client: no server");
  std::unique_ptr<KubeClient> client(new KubeClient(std::move(config)));
  if (auto token = client->authorization(); !token)
    return std::move(token).status().withContext("Kubernetes client (" + client->config_.origin +
                                                 ")");
  return client;
}

KubeClient::~KubeClient() = default;

void KubeClient::cancel() { cancelled_ = true; }

Result<std::string> KubeClient::authorization() const {
  if (!config_.tokenFile.empty()) {
    auto read = durable::readFile(config_.tokenFile);
    if (!read) {
      return Status::error("cannot read the token file " + config_.tokenFile.string() + ": " +
                           read.message());
    }
    std::string token = std::move(read).value();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    return "Authorization: Bearer " + token;
  }
  if (!config_.token.empty()) return "Authorization: Bearer " + config_.token;
  return std::string();
}

namespace {

struct Prepared {
  CurlPtr curl;
  SlistPtr headers;
};

Result<Prepared> prepare(const KubeConfig& config, const std::string& authorization,
                         const std::string& method, const std::string& url,
                         const std::string& contentType) {
  Prepared prepared{CurlPtr(curl_easy_init()), nullptr};
  CURL* curl = prepared.curl.get();
  if (!curl) return Status::error("cannot create a libcurl handle");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (config.insecureSkipTlsVerify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!config.certificateAuthority.empty()) {
    curl_blob ca = blobOf(config.certificateAuthority);
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  }
  if (!config.clientCertificate.empty()) {
    curl_blob certificate = blobOf(config.clientCertificate);
    curl_blob key = blobOf(config.clientKey);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &certificate);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
  }
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  if (!authorization.empty()) headers = curl_slist_append(headers, authorization.c_str());
  headers = curl_slist_append(headers, ("Content-Type: " + contentType).c_str());
  headers = curl_slist_append(headers, "User-Agent: siteplane");
  prepared.headers.reset(headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  return prepared;
}

}  // namespace

Result<KubeResponse> KubeClient::request(const std::string& method, const std::string& path,
                                         const std::string& body,
                                         const KubeRequestOptions& options) {
  if (cancelled_) return Status::error(ErrorCode::kCancelled, "Kubernetes client stopped");
  auto authorization = this->authorization();
  if (!authorization) return authorization.status();
  auto prepared =
      prepare(config_, *authorization, method, config_.server + path, options.contentType);
  if (!prepared) return prepared.status();
  CURL* curl = prepared->curl.get();
  Transfer transfer;
  transfer.cancelled = &cancelled_;
  transfer.curl = curl;
  transfer.limit = options.maxResponseBytes;
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &onData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &onProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  CURLcode result = curl_easy_perform(curl);
  if (result == CURLE_ABORTED_BY_CALLBACK)
    return Status::error(ErrorCode::kCancelled, "Kubernetes client stopped");
  if (transfer.tooLarge) {
    return Status::error(ErrorCode::kUnavailable,
                         method + " " + config_.server + path + ": the answer is larger than " +
                             std::to_string(options.maxResponseBytes) + " bytes");
  }
  if (result != CURLE_OK) {
    return Status::error(ErrorCode::kUnavailable,
                         method + " " + config_.server + path + ": " + curl_easy_strerror(result));
  }
  KubeResponse response;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(transfer.body);
  return response;
}

Status KubeClient::watch(const std::string& path,
                         const std::function<bool(std::string_view line)>& onLine,
                         std::chrono::seconds idleTimeout, size_t maxEventBytes) {
  if (cancelled_) return Status::error(ErrorCode::kCancelled, "Kubernetes client stopped");
  auto authorization = this->authorization();
  if (!authorization) return authorization.status();
  auto prepared =
      prepare(config_, *authorization, "GET", config_.server + path, "application/json");
  if (!prepared) return prepared.status();
  CURL* curl = prepared->curl.get();
  Transfer transfer;
  transfer.cancelled = &cancelled_;
  transfer.curl = curl;
  transfer.onLine = &onLine;
  transfer.limit = maxEventBytes;
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &onData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &onProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  // Bookmarks arrive about once a minute: a stream silent for longer is a dead connection.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(idleTimeout.count()));
  CURLcode result = curl_easy_perform(curl);
  if (transfer.stoppedByCaller) return Status::ok();
  if (result == CURLE_ABORTED_BY_CALLBACK)
    return Status::error(ErrorCode::kCancelled, "Kubernetes client stopped");
  const std::string where = "watch " + path;
  if (transfer.tooLarge) {
    return Status::error(ErrorCode::kUnavailable, where + ": an event is larger than " +
                                                      std::to_string(maxEventBytes) + " bytes");
  }
  if (result != CURLE_OK)
    return Status::error(ErrorCode::kUnavailable, where + ": " + curl_easy_strerror(result));
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    return Status::error(codeOfHttpStatus(status), where + ": HTTP " + std::to_string(status) +
                                                       ": " + statusMessage(transfer.body));
  }
  if (!transfer.body.empty()) onLine(transfer.body);  // a last line without its newline
  return Status::ok();
}

}  // namespace siteplane::kube

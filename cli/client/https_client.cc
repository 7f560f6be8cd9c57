#include "cli/client/https_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace siteplane::cli {
namespace {

// A response body larger than this is refused rather than buffered: the API's lists of a few
// thousand objects stay far below it.
constexpr size_t kMaxResponseBytes = size_t{256} << 20;

std::string opensslErrors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown TLS error" : text;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

bool isIpLiteral(const std::string& host) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// Connects with a deadline: a blocking connect() to an unreachable address would hang for the
// kernel's SYN timeout, minutes, while the CLI promises one clear line soon.
Result<int> connectTo(const std::string& host, const std::string& port,
                      std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &list); rc != 0) {
    return Result<int>::error("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(list, freeaddrinfo);
  std::string lastError = "no address";
  for (addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
    int fd = ::socket(entry->ai_family, entry->ai_socktype | SOCK_CLOEXEC, entry->ai_protocol);
    if (fd < 0) {
      lastError = std::strerror(errno);
      continue;
    }
    FdCloser guard{fd};
    int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, entry->ai_addr, entry->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd waiter{fd, POLLOUT, 0};
      int ready = ::poll(&waiter, 1, static_cast<int>(timeout.count()));
      if (ready == 0) {
        lastError = "connection timed out";
        continue;
      }
      int error = 0;
      socklen_t length = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      rc = error == 0 ? 0 : -1;
      errno = error;
    }
    if (rc != 0) {
      lastError = std::strerror(errno);
      continue;
    }
    fcntl(fd, F_SETFL, flags);
    // The TLS exchange below is blocking; these bound every read and write.
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    limit.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    guard.fd = -1;
    return fd;
  }
  return Result<int>::error(lastError);
}

Result<std::string> decodeChunked(const std::string& body) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t lineEnd = body.find("\r\n", pos);
    if (lineEnd == std::string::npos) return Result<std::string>::error("truncated chunked body");
    std::string sizeText = body.substr(pos, lineEnd - pos);
    // The hex digits before any chunk extension (";name=value").
    size_t size = 0;
    auto [end, error] =
        std::from_chars(sizeText.data(), sizeText.data() + sizeText.size(), size, 16);
    if (error != std::errc() || end == sizeText.data()) {
      return Result<std::string>::error("malformed chunk size \"" + sizeText + "\"");
    }
    pos = lineEnd + 2;
    if (size == 0) return out;
    if (pos + size > body.size()) return Result<std::string>::error("truncated chunked body");
    out.append(body, pos, size);
    pos += size + 2;
  }
}

Result<HttpResponse> parseResponse(const std::string& raw) {
  size_t headEnd = raw.find("\r\n\r\n");
  if (headEnd == std::string::npos) {
    return Result<HttpResponse>::error(raw.empty() ? "the server closed the connection without "
                                                     "a response"
                                                   : "malformed HTTP response (no header end)");
  }
  HttpResponse response;
  std::string head = raw.substr(0, headEnd);
  size_t lineEnd = head.find("\r\n");
  std::string statusLine = head.substr(0, lineEnd);
  if (statusLine.rfind("HTTP/1.", 0) != 0 || statusLine.size() < 12) {
    return Result<HttpResponse>::error("malformed HTTP status line \"" + statusLine + "\"");
  }
  // "HTTP/1.1 200 OK": three digits after "HTTP/1.x ".
  const char* code = statusLine.data() + 9;
  auto [codeEnd, codeError] = std::from_chars(code, code + 3, response.status);
  if (codeError != std::errc() || codeEnd != code + 3) {
    return Result<HttpResponse>::error("malformed HTTP status line \"" + statusLine + "\"");
  }
  size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      response.headers[lower(line.substr(0, colon))] = value;
    }
    pos = end + 2;
  }
  std::string body = raw.substr(headEnd + 4);
  if (auto te = response.headers.find("transfer-encoding");
      te != response.headers.end() && lower(te->second).find("chunked") != std::string::npos) {
    auto decoded = decodeChunked(body);
    if (!decoded) return decoded.status();
    response.body = std::move(decoded).value();
  } else if (auto length = response.headers.find("content-length");
             length != response.headers.end()) {
    size_t expected = 0;
    const std::string& text = length->second;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), expected);
    if (error != std::errc() ||
        text.find_first_not_of(" \t", end - text.data()) != std::string::npos) {
      return Result<HttpResponse>::error("malformed Content-Length \"" + text + "\"");
    }
    if (body.size() < expected) return Result<HttpResponse>::error("truncated response body");
    body.resize(expected);
    response.body = std::move(body);
  } else {
    response.body = std::move(body);
  }
  return response;
}

}  // namespace

class HttpsClient::Context {
 public:
  explicit Context(SSL_CTX* context) : context_(context) {}
  ~Context() { SSL_CTX_free(context_); }
  SSL_CTX* get() const { return context_; }

 private:
  SSL_CTX* context_;
};

HttpsClient::HttpsClient(std::string serverUrl, std::string host, std::string port,
                         std::unique_ptr<Context> context, std::chrono::milliseconds timeout)
    : serverUrl_(std::move(serverUrl)),
      host_(std::move(host)),
      port_(std::move(port)),
      context_(std::move(context)),
      timeout_(timeout) {}

HttpsClient::~HttpsClient() = default;

Result<std::unique_ptr<HttpsClient>> HttpsClient::create(const std::string& serverUrl,
                                                         const std::string& caPem,
                                                         std::chrono::milliseconds timeout) {
  using R = Result<std::unique_ptr<HttpsClient>>;
  constexpr std::string_view kScheme = "https://";
  if (serverUrl.rfind(kScheme, 0) != 0) {
    return R::error("server URL \"" + serverUrl + "\" must start with https://");
  }
  std::string authority = serverUrl.substr(kScheme.size());
  while (!authority.empty() && authority.back() == '/') authority.pop_back();
  if (authority.find('/') != std::string::npos) {
    return R::error("server URL \"" + serverUrl + "\" must not have a path");
  }
  std::string host;
  std::string port = "443";
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return R::error("server URL \"" + serverUrl + "\": bad IPv6");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return R::error("server URL \"" + serverUrl + "\": bad port");
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
    return R::error("server URL \"" + serverUrl + "\" needs a host and a numeric port");
  }

  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) return R::error("cannot create a TLS context: " + opensslErrors());
  auto context = std::make_unique<Context>(raw);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  if (caPem.empty()) return R::error("the kubeconfig has no certificate-authority-data");
  BIO* bio = BIO_new_mem_buf(caPem.data(), static_cast<int>(caPem.size()));
  X509_STORE* store = SSL_CTX_get_cert_store(raw);
  int added = 0;
  while (X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, certificate) == 1) ++added;
    X509_free(certificate);
  }
  BIO_free(bio);
  ERR_clear_error();  // the loop ends on a "no start line" error, which is expected
  if (added == 0) return R::error("the certificate-authority-data holds no PEM certificate");
  return std::unique_ptr<HttpsClient>(
      new HttpsClient(serverUrl, std::move(host), std::move(port), std::move(context), timeout));
}

Result<HttpResponse> HttpsClient::send(const HttpRequest& request) const {
  auto fail = [&](const std::string& what) {
    return Result<HttpResponse>::error("cannot reach the API server at " + serverUrl_ + ": " +
                                       what);
  };
  ERR_clear_error();
  auto fd = connectTo(host_, port_, timeout_);
  if (!fd) return fail(fd.message());
  FdCloser guard{*fd};
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context_->get()));
  if (!ssl) return fail(opensslErrors());
  SSL_set_fd(ssl.get(), *fd);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (isIpLiteral(host_)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host_.c_str(), 0);
    SSL_set_tlsext_host_name(ssl.get(), host_.c_str());
  }
  if (SSL_connect(ssl.get()) != 1) {
    long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK) {
      return fail(std::string("server certificate not trusted: ") +
                  X509_verify_cert_error_string(verify));
    }
    std::string errors = ERR_peek_error() != 0 ? opensslErrors() : std::strerror(errno);
    return fail("TLS handshake failed: " + errors);
  }

  std::string wire = request.method + " " + request.target + " HTTP/1.1\r\n";
  wire += "Host: " + (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
          port_ + "\r\n";
  wire += "Connection: close\r\n";
  for (const auto& [name, value] : request.headers) wire += name + ": " + value + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    wire += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  wire += "\r\n";
  wire += request.body;
  size_t written = 0;
  while (written < wire.size()) {
    int n = SSL_write(ssl.get(), wire.data() + written, static_cast<int>(wire.size() - written));
    if (n <= 0) return fail("sending the request failed: " + opensslErrors());
    written += static_cast<size_t>(n);
  }

  std::string raw;
  char buffer[16384];
  while (true) {
    int n = SSL_read(ssl.get(), buffer, sizeof buffer);
    if (n > 0) {
      raw.append(buffer, static_cast<size_t>(n));
      if (raw.size() > kMaxResponseBytes) return fail("response larger than 256 MiB");
      continue;
    }
    int error = SSL_get_error(ssl.get(), n);
    if (error == SSL_ERROR_ZERO_RETURN) break;
    if (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return fail("timed out waiting for the response");
    }
    // A peer that closes without close_notify after a complete response is common; the parser
    // below decides whether what arrived is whole.
    break;
  }
  auto response = parseResponse(raw);
  if (!response) return fail(response.message());
  return response;
}

}  // namespace siteplane::cli

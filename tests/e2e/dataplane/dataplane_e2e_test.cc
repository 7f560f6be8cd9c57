// End-to-end: the real dataplane_harness process on 127.0.0.1, driven by real curl and
// openssl s_client (plus raw sockets where a client must misbehave).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace siteplane::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string extractPem(const std::string& text) {
  auto begin = text.find("-----BEGIN CERTIFICATE-----");
  auto end = text.find("-----END CERTIFICATE-----");
  if (begin == std::string::npos || end == std::string::npos) return "";
  return text.substr(begin, end - begin + 25) + "\n";
}

std::string thumbprintOfPem(const std::string& pem) {
  auto result = run({"openssl", "x509", "-noout", "-fingerprint", "-sha1"}, pem);
  std::string out;
  auto equals = result.out.find('=');
  if (equals == std::string::npos) return "";
  for (char c : result.out.substr(equals + 1))
    if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::toupper(c));
  return out;
}

// The SHA-1 thumbprint of the certificate the server presents for `sni` ("" = send no SNI);
// "" when the handshake fails. `output` receives what s_client printed.
std::string servedThumbprint(int port, const std::string& sni, std::string* output = nullptr) {
  std::vector<std::string> argv = {"openssl", "s_client", "-connect",
                                   "127.0.0.1:" + std::to_string(port)};
  if (sni.empty()) {
    argv.push_back("-noservername");
  } else {
    argv.insert(argv.end(), {"-servername", sni});
  }
  auto result = run(argv, "", 20s);
  if (output) *output = result.out + result.err;
  return thumbprintOfPem(extractPem(result.out));
}

struct HttpResult {
  int status = 0;
  std::string headers;
  std::string body;
};

// curl against 127.0.0.1:port for https://host:port/path (or http://), with extra arguments.
HttpResult curl(bool https, const std::string& host, int port, const std::string& path,
                std::vector<std::string> extra = {}) {
  std::string url =
      std::string(https ? "https://" : "http://") + host + ":" + std::to_string(port) + path;
  std::vector<std::string> argv = {
      "curl", "-sk", "--max-time", "20",
      "-D",   "-",   "--resolve",  host + ":" + std::to_string(port) + ":127.0.0.1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  auto result = run(argv, "", 30s);
  HttpResult out;
  auto split = result.out.find("\r\n\r\n");
  out.headers = result.out.substr(0, split);
  out.body = split == std::string::npos ? "" : result.out.substr(split + 4);
  if (out.headers.rfind("HTTP/", 0) == 0) out.status = std::stoi(out.headers.substr(9, 3));
  return out;
}

// A raw TCP client for requests no well-behaved client sends.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  // Reads until the peer closes or `timeout` passes; closed() tells which.
  std::string readAll(std::chrono::milliseconds timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return out;
      char buffer[4096];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed_ = true;
        return out;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

// Certificates, a table description and a running harness serving it.
struct Fixture {
  TempDir dir;
  TestCertificate ca, a, b, wild, fallback, clientGood, clientUntrusted, clientExpired;
  int sniPort = freePort();     // a.test, b.test, *.wild.test and a default certificate
  int strictPort = freePort();  // a.test only: no default certificate
  int clientPort = freePort();  // req.test (Require) and acc.test (Accept)
  int httpPort = freePort();    // plain.test, secure.test (403.4), redirect.test (301)
  std::unique_ptr<Process> server;

  Fixture() {
    fs::path certs = dir.path() / "certs";
    ca = makeCertificate(certs, "ca", {}, nullptr, true);
    a = makeCertificate(certs, "a", {"a.test", "req.test", "acc.test"});
    b = makeCertificate(certs, "b", {"b.test"});
    wild = makeCertificate(certs, "wild", {"*.wild.test"});
    fallback = makeCertificate(certs, "fallback", {"fallback.test"});
    clientGood = makeCertificate(certs, "client-good", {"client.test"}, &ca);
    clientUntrusted = makeCertificate(certs, "client-untrusted", {"stranger.test"});
    clientExpired = expiredClient(certs);
    dir.write("www/index.html", "<h1>hello</h1>\n");
    writeConfig(config("a"));
  }

  TestCertificate expiredClient(const fs::path& certs) {
    TestCertificate out{certs / "client-expired.crt", certs / "client-expired.key", ""};
    auto request = run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", out.key.string(), "-out",
                        (certs / "expired.csr").string(), "-subj", "/CN=expired.test"});
    REQUIRE(request.exitCode == 0);
    // -days -1: valid until yesterday, signed by the trusted CA, so only the dates are wrong.
    auto sign = run({"openssl", "x509", "-req", "-in", (certs / "expired.csr").string(), "-CA",
                     ca.cert.string(), "-CAkey", ca.key.string(), "-days", "-1", "-out",
                     out.cert.string()});
    REQUIRE(sign.exitCode == 0);
    return out;
  }

  std::string certificateJson(const std::string& name, const TestCertificate& c) {
    return "\"" + name + "\": {\"certificateFile\": \"" + c.cert.string() +
           "\", \"privateKeyFile\": \"" + c.key.string() + "\"}";
  }

  std::string binding(const std::string& name, const std::string& site, const std::string& protocol,
                      int port, const std::string& host, const std::string& certificate = "") {
    std::string out = "{\"name\": \"" + name + "\", \"site\": \"" + site + "\", \"protocol\": \"" +
                      protocol +
                      "\", \"address\": \"127.0.0.1\", \"port\": " + std::to_string(port) +
                      ", \"hostName\": \"" + host + "\"";
    if (!certificate.empty()) out += ", \"certificate\": \"" + certificate + "\"";
    return out + "}";
  }

  // aCertificate: which certificate the a.test binding on sniPort uses (swapped by reload tests).
  std::string config(const std::string& aCertificate, const std::string& extraBindings = "") {
    std::string ca = "[\"" + this->ca.cert.string() + "\"]";
    return "{\"sites\": {"
           "\"main\": {\"root\": \"www\"},"
           "\"secure\": {\"root\": \"www\", \"requireSSL\": true},"
           "\"redirect\": {\"root\": \"www\", \"requireSSL\": true, \"redirectHTTP\": true, "
           "\"httpsRedirectPort\": " +
           std::to_string(sniPort) +
           "},"
           "\"require\": {\"root\": \"www\", \"clientCertificate\": \"Require\", "
           "\"clientCAFiles\": " +
           ca +
           "},"
           "\"accept\": {\"root\": \"www\", \"clientCertificate\": \"Accept\", "
           "\"clientCAFiles\": " +
           ca +
           "}},"
           "\"certificates\": {" +
           certificateJson("a", a) + "," + certificateJson("b", b) + "," +
           certificateJson("wild", wild) + "," + certificateJson("fallback", fallback) +
           "},\"bindings\": [" +
           binding("sni-a", "main", "https", sniPort, "a.test", aCertificate) + "," +
           binding("sni-b", "main", "https", sniPort, "b.test", "b") + "," +
           binding("sni-wild", "main", "https", sniPort, "*.wild.test", "wild") + "," +
           binding("sni-default", "main", "https", sniPort, "", "fallback") + "," +
           binding("strict-a", "main", "https", strictPort, "a.test", "a") + "," +
           binding("client-require", "require", "https", clientPort, "req.test", "a") + "," +
           binding("client-accept", "accept", "https", clientPort, "acc.test", "a") + "," +
           binding("plain", "main", "http", httpPort, "plain.test") + "," +
           binding("secure", "secure", "http", httpPort, "secure.test") + "," +
           binding("redirect", "redirect", "http", httpPort, "redirect.test") + extraBindings +
           "]}";
  }

  void writeConfig(const std::string& text) { dir.write("table.json", text); }

  void start(std::vector<std::string> extra = {}) {
    // The compile-time build directory: ctest does not pass the environment variable through
    // catch_discover_tests' PROPERTIES, so binaryDir() would fall back to the working directory.
    std::vector<std::string> argv = {
        (fs::path(SITEPLANE_BINARY_DIR) / "dataplane_harness").string(), "--config",
        (dir.path() / "table.json").string(), "--workers", "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server = std::make_unique<Process>(argv);
    bool ready = server->waitForOutput("ready generation=1");
    INFO(server->output());
    REQUIRE(ready);
  }
};

}  // namespace

TEST_CASE(
    "The data plane presents the certificate the SNI name selects, wildcard and default included",
    "[e2e][dataplane]") {
  Fixture f;
  f.start();
  CHECK(servedThumbprint(f.sniPort, "a.test") == f.a.thumbprint);
  CHECK(servedThumbprint(f.sniPort, "B.TEST") == f.b.thumbprint);
  CHECK(servedThumbprint(f.sniPort, "shop.wild.test") == f.wild.thumbprint);
  // The wildcard covers one label only; deeper names fall to the default certificate.
  CHECK(servedThumbprint(f.sniPort, "a.b.wild.test") == f.fallback.thumbprint);
  CHECK(servedThumbprint(f.sniPort, "") == f.fallback.thumbprint);
  CHECK(servedThumbprint(f.sniPort, "unknown.test") == f.fallback.thumbprint);
}

TEST_CASE(
    "The data plane fails the handshake with unrecognized_name when no binding and no default "
    "match",
    "[e2e][dataplane]") {
  Fixture f;
  f.start();
  std::string output;
  CHECK(servedThumbprint(f.strictPort, "other.test", &output).empty());
  CHECK(output.find("unrecognized name") != std::string::npos);
  CHECK(servedThumbprint(f.strictPort, "", &output).empty());
  CHECK(servedThumbprint(f.strictPort, "a.test") == f.a.thumbprint);
}

TEST_CASE(
    "The data plane routes by Host and answers 400 for unknown hosts and 421 for a Host the SNI "
    "certificate does not serve",
    "[e2e][dataplane]") {
  Fixture f;
  f.start();
  auto served = curl(true, "a.test", f.sniPort, "/");
  CHECK(served.status == 200);
  CHECK(served.body == "<h1>hello</h1>\n");

  auto misdirected = curl(true, "a.test", f.sniPort, "/", {"-H", "Host: b.test"});
  CHECK(misdirected.status == 421);

  auto unknown = curl(false, "nope.test", f.httpPort, "/");
  CHECK(unknown.status == 400);
  CHECK(unknown.body.find("Invalid Hostname") != std::string::npos);

  auto unknownTls = curl(true, "a.test", f.strictPort, "/", {"-H", "Host: nope.test"});
  CHECK(unknownTls.status == 400);

  auto plain = curl(false, "plain.test", f.httpPort, "/");
  CHECK(plain.status == 200);
}

TEST_CASE("The data plane serves static files with 304, 206, 404 and refuses path traversal",
          "[e2e][dataplane]") {
  Fixture f;
  f.dir.write("www/big.bin", std::string(300000, 'z'));
  f.dir.write("secret.txt", "do not serve\n");
  f.start();
  auto page = curl(true, "a.test", f.sniPort, "/index.html");
  REQUIRE(page.status == 200);
  CHECK(page.headers.find("Content-Type: text/html") != std::string::npos);
  auto etagAt = page.headers.find("ETag: ");
  REQUIRE(etagAt != std::string::npos);
  std::string etag =
      page.headers.substr(etagAt + 6, page.headers.find("\r\n", etagAt) - etagAt - 6);

  auto notModified =
      curl(true, "a.test", f.sniPort, "/index.html", {"-H", "If-None-Match: " + etag});
  CHECK(notModified.status == 304);
  CHECK(notModified.body.empty());

  auto partial = curl(true, "a.test", f.sniPort, "/index.html", {"-H", "Range: bytes=1-3"});
  CHECK(partial.status == 206);
  CHECK(partial.body == "h1>");
  CHECK(partial.headers.find("Content-Range: bytes 1-3/15") != std::string::npos);

  auto unsatisfiable =
      curl(false, "plain.test", f.httpPort, "/index.html", {"-H", "Range: bytes=100-"});
  CHECK(unsatisfiable.status == 416);

  // Larger than the in-memory limit and the output watermark: streamed in pieces over TLS.
  auto big = curl(true, "a.test", f.sniPort, "/big.bin");
  CHECK(big.status == 200);
  CHECK(big.body == std::string(300000, 'z'));

  CHECK(curl(true, "a.test", f.sniPort, "/missing.html").status == 404);
  CHECK(curl(false, "plain.test", f.httpPort, "/../secret.txt", {"--path-as-is"}).status == 403);
  CHECK(curl(false, "plain.test", f.httpPort, "/%2e%2e/secret.txt", {"--path-as-is"}).status ==
        403);
  CHECK(curl(false, "plain.test", f.httpPort, "/%2E%2E%2Fsecret.txt", {"--path-as-is"}).status ==
        403);
  std::error_code ignored;
  fs::create_symlink(f.dir.path() / "secret.txt", f.dir.path() / "www" / "link.txt", ignored);
  auto viaLink = curl(false, "plain.test", f.httpPort, "/link.txt");
  CHECK(viaLink.status == 403);
  CHECK(viaLink.body.find("do not serve") == std::string::npos);
}

TEST_CASE(
    "The data plane answers plain-http requests to a requireSSL site with 403.4 or a 301 to https",
    "[e2e][dataplane]") {
  Fixture f;
  f.start();
  auto refused = curl(false, "secure.test", f.httpPort, "/page");
  CHECK(refused.status == 403);
  CHECK(refused.headers.find("X-Status: 403.4") != std::string::npos);
  CHECK(refused.body.find("SSL required") != std::string::npos);

  auto redirected = curl(false, "redirect.test", f.httpPort, "/a/b?x=1");
  CHECK(redirected.status == 301);
  CHECK(redirected.headers.find("Location: https://redirect.test:" + std::to_string(f.sniPort) +
                                "/a/b?x=1") != std::string::npos);
}

TEST_CASE("The data plane enforces client certificates with 403.7, 403.16 and 403.17",
          "[e2e][dataplane]") {
  Fixture f;
  f.start();
  auto withCert = [&](const std::string& host, const TestCertificate* client) {
    std::vector<std::string> extra;
    if (client) extra = {"--cert", client->cert.string(), "--key", client->key.string()};
    return curl(true, host, f.clientPort, "/", extra);
  };
  auto missing = withCert("req.test", nullptr);
  CHECK(missing.status == 403);
  CHECK(missing.headers.find("X-Status: 403.7") != std::string::npos);

  auto untrusted = withCert("req.test", &f.clientUntrusted);
  CHECK(untrusted.status == 403);
  CHECK(untrusted.headers.find("X-Status: 403.16") != std::string::npos);

  auto expired = withCert("req.test", &f.clientExpired);
  CHECK(expired.status == 403);
  CHECK(expired.headers.find("X-Status: 403.17") != std::string::npos);

  CHECK(withCert("req.test", &f.clientGood).status == 200);
  CHECK(withCert("acc.test", nullptr).status == 200);
  CHECK(withCert("acc.test", &f.clientGood).status == 200);
  // Accept passes the verified subject to the access log (W3C: spaces become '+').
  CHECK(f.server->waitForOutput("CN=client.test", 5s));
}

TEST_CASE("The data plane answers oversized headers with 431 and a slow request with 408",
          "[e2e][dataplane]") {
  Fixture f;
  f.start({"--header-timeout-ms", "400", "--max-header-bytes", "4096"});
  auto tooLarge =
      curl(false, "plain.test", f.httpPort, "/", {"-H", "X-Big: " + std::string(8000, 'x')});
  CHECK(tooLarge.status == 431);

  RawClient slow(f.httpPort);
  REQUIRE(slow.connected());
  slow.send("GET / HTTP/1.1\r\nHost: plain.test\r\n");
  std::string answer = slow.readAll(10s);
  CHECK(answer.rfind("HTTP/1.1 408 ", 0) == 0);
  CHECK(answer.find("Connection: close") != std::string::npos);
  CHECK(slow.closed());
}

TEST_CASE("The data plane writes one W3C access log line per request, or JSON on request",
          "[e2e][dataplane]") {
  {
    Fixture f;
    f.start();
    REQUIRE(curl(true, "a.test", f.sniPort, "/index.html?x=1").status == 200);
    REQUIRE(curl(false, "secure.test", f.httpPort, "/p").status == 403);
    CHECK(f.server->waitForOutput(
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port"));
    CHECK(f.server->waitForOutput(" 127.0.0.1 GET /index.html x=1 " + std::to_string(f.sniPort) +
                                  " 127.0.0.1 a.test:" + std::to_string(f.sniPort) + " 200 0 "));
    CHECK(f.server->waitForOutput(" TLSv1.3 TLS_AES_128_GCM_SHA256 a.test default/main -"));
    CHECK(f.server->waitForOutput(" GET /p - " + std::to_string(f.httpPort) +
                                  " 127.0.0.1 secure.test:" + std::to_string(f.httpPort) +
                                  " 403 4 "));
  }
  {
    Fixture f;
    f.start({"--access-log", "json"});
    REQUIRE(curl(true, "a.test", f.sniPort, "/index.html?x=1").status == 200);
    CHECK(f.server->waitForOutput(
        "\"cs-method\":\"GET\",\"cs-uri-stem\":\"/index.html\",\"cs-uri-query\":\"x=1\""));
    CHECK(f.server->waitForOutput("\"sc-status\":200,\"sc-substatus\":0"));
    CHECK(f.server->waitForOutput("\"sni\":\"a.test\",\"site\":\"default/main\""));
    CHECK(f.server->output().find("#Fields") == std::string::npos);
  }
}

TEST_CASE(
    "The data plane survives garbage bytes and failed handshakes at the cost of one connection",
    "[e2e][dataplane]") {
  Fixture f;
  f.start();
  {
    RawClient garbage(f.httpPort);
    garbage.send(std::string("\x16\x03\x01\x00\xff garbage \r\n\r\n\x00\x01", 20));
    std::string answer = garbage.readAll(10s);
    CHECK(answer.rfind("HTTP/1.1 400 ", 0) == 0);
    CHECK(garbage.closed());
  }
  {
    RawClient notTls(f.sniPort);
    notTls.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    notTls.readAll(10s);
    CHECK(notTls.closed());
  }
  CHECK(curl(true, "a.test", f.sniPort, "/").status == 200);
  CHECK(curl(false, "plain.test", f.httpPort, "/").status == 200);
  CHECK(f.server->running());
}

TEST_CASE(
    "The data plane publishes a reloaded table on SIGHUP and reports listeners that cannot bind",
    "[e2e][dataplane]") {
  Fixture f;
  f.start();
  REQUIRE(servedThumbprint(f.sniPort, "a.test") == f.a.thumbprint);

  // A port held by another socket (without SO_REUSEPORT) cannot be bound.
  int busyFd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(::bind(busyFd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(busyFd, 1) == 0);
  ::getsockname(busyFd, reinterpret_cast<sockaddr*>(&address), &length);
  int busyPort = ntohs(address.sin_port);
  int addedPort = freePort();

  std::string extra = ",";
  extra += f.binding("added", "main", "http", addedPort, "");
  extra += ",";
  extra += f.binding("busy", "main", "http", busyPort, "");
  f.writeConfig(f.config("b", extra));
  ::kill(f.server->pid(), SIGHUP);
  REQUIRE(f.server->waitForOutput("ready generation=2"));
  CHECK(
      f.server->output().find("listener_error address=127.0.0.1 port=" + std::to_string(busyPort) +
                              " error=127.0.0.1:" + std::to_string(busyPort) +
                              ": address already in use") != std::string::npos);
  CHECK(servedThumbprint(f.sniPort, "a.test") == f.b.thumbprint);
  CHECK(curl(false, "anything.test", addedPort, "/").status == 200);
  CHECK(curl(true, "b.test", f.sniPort, "/").status == 200);
  ::close(busyFd);

  CHECK(f.server->stop(SIGTERM) == 0);
  CHECK(f.server->output().find("stopped") != std::string::npos);
}

}  // namespace siteplane::testing

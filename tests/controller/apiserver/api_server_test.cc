// The API server over real HTTPS on 127.0.0.1, driven by curl and the real kubectl with the
// kubeconfig the server writes.

#include "controller/apiserver/api_server.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane::apiserver;
using namespace siteplane::testing;
using nlohmann::json;

namespace {

struct Server {
  // `configure` adjusts the options before the server is created.
  explicit Server(const std::function<void(ApiServerOptions&)>& configure = {}) {
    auto made = siteplane::store::Store::create(state.path() / "store");
    if (!made) throw std::runtime_error(made.message());
    store = std::move(made).value();
    ApiServerOptions options;
    options.listen = "127.0.0.1:0";
    options.stateDir = state.path();
    if (configure) configure(options);
    auto created = ApiServer::create(std::move(options), *store);
    if (!created) throw std::runtime_error(created.message());
    server = std::move(created).value();
    siteplane::Status started = server->start();
    if (!started) throw std::runtime_error(started.message());
  }

  std::vector<std::string> kubectl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {kubectlProgram(), "--kubeconfig",
                                     server->kubeconfigPath().string(), "--cache-dir",
                                     (state.path() / "kubecache").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult curl(std::vector<std::string> args, bool withToken = true) const {
    std::vector<std::string> argv = {"curl",     "-sS",
                                     "--cacert", (state.path() / "api" / "ca.crt").string(),
                                     "-w",       "\n%{http_code}"};
    if (withToken) {
      argv.push_back("-H");
      argv.push_back("Authorization: Bearer " + server->credentials().token);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  static int code(const CommandResult& result) {
    return std::stoi(result.out.substr(result.out.rfind('\n') + 1));
  }

  TempDir state;
  std::unique_ptr<siteplane::store::Store> store;
  std::unique_ptr<ApiServer> server;
};

const char* kManifests = R"(apiVersion: siteplane.io/v1alpha1
kind: Site
metadata:
  name: web
spec:
  root: /srv/www
---
apiVersion: siteplane.io/v1alpha1
kind: Binding
metadata:
  name: web-http
  labels:
    app: web
spec:
  siteRef:
    name: web
  protocol: http
  port: 8080
)";

void markProgrammed(siteplane::store::Store& store, const std::string& name) {
  auto current = store.get({"Binding", "default", name});
  REQUIRE(current.isOk());
  json object = **current;
  object["status"] = {{"listenAddress", "127.0.0.1:8080"},
                      {"conditions",
                       {{{"type", "Programmed"},
                         {"status", "True"},
                         {"reason", "Programmed"},
                         {"message", "serving"},
                         {"lastTransitionTime", "2026-11-25T06:00:00Z"},
                         {"observedGeneration", 1}}}}};
  REQUIRE(store.updateStatus(object).isOk());
}

}  // namespace

TEST_CASE("The API server serves HTTPS with its own CA, a 0600 token and a kubeconfig",
          "[apiserver][https]") {
  Server s;
  struct stat info {};
  REQUIRE(stat((s.state.path() / "api" / "token").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  REQUIRE(stat(s.server->kubeconfigPath().c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  std::string kubeconfig = readFile(s.server->kubeconfigPath());
  CHECK_THAT(kubeconfig, Catch::Contains(s.server->url()));
  CHECK_THAT(kubeconfig, Catch::Contains("certificate-authority-data"));

  auto anonymous = s.curl({s.server->url() + "/apis/siteplane.io/v1alpha1/sites"}, false);
  REQUIRE(anonymous.exitCode == 0);
  CHECK(Server::code(anonymous) == 401);
  CHECK_THAT(anonymous.out, Catch::Contains("\"kind\":\"Status\""));

  auto listed = s.curl({s.server->url() + "/apis/siteplane.io/v1alpha1/sites"});
  CHECK(Server::code(listed) == 200);
  CHECK(Server::code(s.curl({s.server->url() + "/readyz"}, false)) == 200);

  std::string sites = s.server->url() + "/apis/siteplane.io/v1alpha1/namespaces/default/sites";
  auto malformed = s.curl(
      {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "{not json", sites});
  CHECK(Server::code(malformed) == 400);
  auto unknown =
      s.curl({"-X", "POST", "-H", "Content-Type: text/csv", "--data-binary", "a,b", sites});
  CHECK(Server::code(unknown) == 415);
  TempDir big;
  auto bigFile = big.write("big.json", std::string(10 * 1024 * 1024, 'x'));
  auto tooLarge = s.curl({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                          "@" + bigFile.string(), sites});
  CHECK(Server::code(tooLarge) == 413);
  // Still serving after all that.
  CHECK(Server::code(s.curl({sites})) == 200);

  // A restart keeps the token and CA.
  std::string token = s.server->credentials().token;
  std::string ca = s.server->credentials().caPem;
  s.server->stop();
  ApiServerOptions options;
  options.listen = "127.0.0.1:0";
  options.stateDir = s.state.path();
  auto again = ApiServer::create(std::move(options), *s.store);
  REQUIRE(again.isOk());
  CHECK((*again)->credentials().token == token);
  CHECK((*again)->credentials().caPem == ca);
}

TEST_CASE("kubectl applies, lists, explains, waits for and deletes siteplane objects",
          "[apiserver][https][kubectl]") {
  Server s;
  TempDir work;
  auto manifests = work.write("manifests/web.yaml", kManifests);

  auto applied = run(s.kubectl({"apply", "-f", manifests.parent_path().string()}));
  INFO(applied.err);
  REQUIRE(applied.exitCode == 0);
  CHECK_THAT(applied.out, Catch::Contains("site.siteplane.io/web created"));
  CHECK_THAT(applied.out, Catch::Contains("binding.siteplane.io/web-http created"));

  // Applying again is a no-op merge patch.
  auto reapplied = run(s.kubectl({"apply", "-f", manifests.string()}));
  REQUIRE(reapplied.exitCode == 0);
  CHECK_THAT(reapplied.out, Catch::Contains("binding.siteplane.io/web-http unchanged"));

  auto table = run(s.kubectl({"get", "sites,bindings"}));
  INFO(table.err);
  REQUIRE(table.exitCode == 0);
  CHECK_THAT(table.out, Catch::Contains("site.siteplane.io/web"));
  CHECK_THAT(table.out, Catch::Contains("binding.siteplane.io/web-http"));
  CHECK_THAT(table.out, Catch::Contains("PROTOCOL"));

  markProgrammed(*s.store, "web-http");
  auto wide = run(s.kubectl({"get", "bindings", "-o", "wide"}));
  REQUIRE(wide.exitCode == 0);
  CHECK_THAT(wide.out, Catch::Contains("LISTEN"));
  CHECK_THAT(wide.out, Catch::Contains("127.0.0.1:8080"));
  CHECK_THAT(wide.out, Catch::Contains("8080"));

  auto jsonpath =
      run(s.kubectl({"get", "binding", "web-http", "-o", "jsonpath={.spec.siteRef.name}"}));
  REQUIRE(jsonpath.exitCode == 0);
  CHECK(jsonpath.out == "web");

  auto yaml = run(s.kubectl({"get", "site", "web", "-o", "yaml"}));
  REQUIRE(yaml.exitCode == 0);
  CHECK_THAT(yaml.out, Catch::Contains("root: /srv/www"));

  auto waited =
      run(s.kubectl({"wait", "--for=condition=Programmed", "binding/web-http", "--timeout=20s"}));
  INFO(waited.err);
  REQUIRE(waited.exitCode == 0);
  CHECK_THAT(waited.out, Catch::Contains("condition met"));

  auto described = run(s.kubectl({"describe", "binding", "web-http"}));
  INFO(described.err);
  REQUIRE(described.exitCode == 0);
  CHECK_THAT(described.out, Catch::Contains("web-http"));
  CHECK_THAT(described.out, Catch::Contains("Programmed"));

  auto explained = run(s.kubectl({"explain", "binding.spec"}));
  INFO(explained.err);
  REQUIRE(explained.exitCode == 0);
  CHECK_THAT(explained.out, Catch::Contains("siteRef"));
  CHECK_THAT(explained.out, Catch::Contains("certificateRef"));

  auto invalid = work.write("bad/bad.yaml", R"(apiVersion: siteplane.io/v1alpha1
kind: Binding
metadata:
  name: broken
spec:
  siteRef:
    name: web
  protocol: http
  port: 70000
)");
  auto refused = run(s.kubectl({"apply", "-f", invalid.string()}));
  CHECK(refused.exitCode != 0);
  CHECK_THAT(refused.err, Catch::Contains("spec.port"));

  auto serverSide = work.write("ssa/web.yaml", R"(apiVersion: siteplane.io/v1alpha1
kind: Binding
metadata:
  name: web-ssa
spec:
  siteRef:
    name: web
  protocol: http
  port: 8081
)");
  auto ssa = run(s.kubectl({"apply", "--server-side", "-f", serverSide.string()}));
  INFO(ssa.err);
  REQUIRE(ssa.exitCode == 0);
  CHECK_THAT(ssa.out, Catch::Contains("binding.siteplane.io/web-ssa serverside-applied"));
  // kubectl 1.21 started hiding managedFields unless --show-managed-fields; 1.20 has no flag.
  std::vector<std::string> get = {"get", "binding", "web-ssa", "-o",
                                  "jsonpath={.metadata.managedFields[*].manager}"};
  if (kubectlMinor() >= 21) get.push_back("--show-managed-fields");
  auto managers = run(s.kubectl(get));
  CHECK(managers.out == "kubectl");

  auto deleted = run(s.kubectl({"delete", "-f", manifests.string()}));
  INFO(deleted.err);
  REQUIRE(deleted.exitCode == 0);
  CHECK_THAT(deleted.out, Catch::Contains("binding.siteplane.io \"web-http\" deleted"));
  CHECK_FALSE(s.store->get({"Binding", "default", "web-http"}).isOk());
}

TEST_CASE("kubectl get -w sees ADDED, MODIFIED and DELETED as they happen",
          "[apiserver][https][kubectl]") {
  Server s;
  Process watch(s.kubectl({"get", "bindings", "-w", "--output-watch-events"}));
  // The watch starts on an empty list; each change below must show up as it happens.
  REQUIRE(waitUntil([&] { return run(s.kubectl({"get", "--raw", "/readyz"})).exitCode == 0; }));
  TempDir work;
  auto manifests = work.write("web.yaml", kManifests);
  REQUIRE(run(s.kubectl({"apply", "-f", manifests.string()})).exitCode == 0);
  REQUIRE(watch.waitForOutput("ADDED"));
  REQUIRE(run(s.kubectl({"label", "binding", "web-http", "stage=two"})).exitCode == 0);
  REQUIRE(watch.waitForOutput("MODIFIED"));
  REQUIRE(run(s.kubectl({"delete", "binding", "web-http"})).exitCode == 0);
  REQUIRE(watch.waitForOutput("DELETED"));
  CHECK_THAT(watch.output(), Catch::Contains("web-http"));
}

// What the loop thread does: it only moves bytes, so a request whose handler call is slow does
// not stop other clients from being answered, one connection's requests are answered in order,
// and watches that asked for them get periodic BOOKMARKs. /readyz runs a readiness check that
// these tests hold until they let go.
namespace {

// A readiness check that blocks until release().
class Gate {
 public:
  std::string pass() {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return released_; });
    return "";
  }
  bool waitEntered(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] { return entered_ > 0; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  int entered_ = 0;
  bool released_ = false;
};

// A server whose /readyz check "gate" blocks until the gate opens.
struct GatedServer {
  GatedServer()
      : server([this](ApiServerOptions& options) {
          options.readThreads = 2;
          options.writeThreads = 1;
          options.bookmarkInterval = std::chrono::milliseconds(100);
          options.readyChecks = {{"gate", [this] { return gate.pass(); }}};
        }) {}
  ~GatedServer() { gate.release(); }  // a handler call in flight must end for stop() to join

  std::vector<std::string> curl(const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "curl",       "-sS",
        "--max-time", "20",
        "--cacert",   (server.state.path() / "api" / "ca.crt").string(),
        "-H",         "Authorization: Bearer " + server.server->credentials().token};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(server.server->url() + path);
    return argv;
  }

  Gate gate;
  Server server;  // after the gate: destroyed (stopped) first
};

const std::chrono::seconds kHang{20};  // bounds a hang only

// A raw TLS client for what curl will not do: stop reading, send half a request, hold a
// connection open. Trusts anything (these tests are about the transport, not the certificate).
class TlsClient {
 public:
  // receiveWindow > 0 shrinks the socket's receive buffer (a client that reads slowly).
  explicit TlsClient(int port, int receiveWindow = 0)
      : context_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free), tls_(nullptr, SSL_free) {
    // A server that resets the connection makes a write fail with EPIPE, not end this process.
    ::signal(SIGPIPE, SIG_IGN);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receiveWindow > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receiveWindow, sizeof receiveWindow);
    }
    timeval readTimeout{static_cast<time_t>(kHang.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &readTimeout, sizeof readTimeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    tls_.reset(SSL_new(context_.get()));
    SSL_set_fd(tls_.get(), fd_);
  }
  ~TlsClient() { ::close(fd_); }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool handshake() { return connected_ && SSL_connect(tls_.get()) == 1; }
  int fd() const { return fd_; }
  bool send(const std::string& bytes) {
    return SSL_write(tls_.get(), bytes.data(), static_cast<int>(bytes.size())) > 0;
  }
  // Everything until the server closes (or kHang passes).
  std::string readAll() {
    std::string received;
    char buffer[64 * 1024];
    for (;;) {
      int n = SSL_read(tls_.get(), buffer, sizeof buffer);
      if (n <= 0) break;
      received.append(buffer, static_cast<size_t>(n));
    }
    return received;
  }

 private:
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context_;
  std::unique_ptr<SSL, decltype(&SSL_free)> tls_;
  int fd_ = -1;
  bool connected_ = false;
};

std::string watchRequest(const std::string& token) {
  return "GET /apis/siteplane.io/v1alpha1/namespaces/default/sites?watch=1 HTTP/1.1\r\nHost: "
         "api\r\nAuthorization: Bearer " +
         token + "\r\n\r\n";
}

// `count` Sites of half a megabyte each: far more than the kernel's socket buffers.
void createPaddedSites(siteplane::store::Store& store, int count) {
  std::string padding(512 * 1024, 'x');
  for (int i = 0; i < count; ++i) {
    json site = {{"apiVersion", "siteplane.io/v1alpha1"},
                 {"kind", "Site"},
                 {"metadata",
                  {{"name", "site-" + std::to_string(i)},
                   {"namespace", "default"},
                   {"annotations", {{"example.test/padding", padding}}}}},
                 {"spec", {{"root", "/srv/www"}}}};
    REQUIRE(store.createObject(site).isOk());
  }
}

}  // namespace

TEST_CASE("A request stuck in its handler does not stop the API server answering other clients",
          "[apiserver][https]") {
  GatedServer s;
  Process slow(s.curl("/readyz?verbose"));
  REQUIRE(s.gate.waitEntered(kHang));

  // /readyz is still held: everything below is answered meanwhile, a store write included.
  auto health = run(s.curl("/healthz"));
  CHECK(health.out == "ok");
  auto created = run(s.curl("/apis/siteplane.io/v1alpha1/namespaces/default/sites",
                            {"-X", "POST", "-H", "Content-Type: application/json", "-d",
                             R"({"metadata":{"name":"web"},"spec":{"root":"/srv/www"}})"}));
  CHECK_THAT(created.out, Catch::Contains("\"name\":\"web\""));
  auto listed = run(s.curl("/apis/siteplane.io/v1alpha1/sites"));
  CHECK_THAT(listed.out, Catch::Contains("\"name\":\"web\""));
  CHECK(slow.running());
  CHECK_THAT(slow.output(), !Catch::Contains("[+]gate ok"));

  s.gate.release();
  CHECK(slow.waitForOutput("readyz check passed", kHang));
  CHECK_THAT(slow.output(), Catch::Contains("[+]gate ok"));
}

TEST_CASE("Pipelined requests on one API connection are answered in the order they were sent",
          "[apiserver][https]") {
  GatedServer s;
  std::string auth = "Authorization: Bearer " + s.server.server->credentials().token + "\r\n";
  std::string requests = "GET /readyz?verbose HTTP/1.1\r\nHost: api\r\n" + auth +
                         "\r\nGET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"
                         "GET /version HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n";
  TlsClient client(s.server.server->port());
  REQUIRE(client.handshake());
  REQUIRE(client.send(requests));
  // Let /readyz go only once it is with the handler and the server has read the later requests
  // (they had their chance to overtake it).
  REQUIRE(s.gate.waitEntered(kHang));
  REQUIRE(waitUntilPeerRead(client.fd()));
  s.gate.release();
  CommandResult answered;
  answered.out = client.readAll();
  INFO(answered.out << answered.err);
  size_t ready = answered.out.find("[+]gate ok");
  size_t health = answered.out.find("\r\n\r\nok");
  size_t version = answered.out.find("gitVersion");
  REQUIRE(ready != std::string::npos);
  REQUIRE(health != std::string::npos);
  REQUIRE(version != std::string::npos);
  CHECK(ready < health);
  CHECK(health < version);
}

TEST_CASE("A watch that allows bookmarks gets periodic BOOKMARKs with the current resourceVersion",
          "[apiserver][https][watch]") {
  GatedServer s;
  nlohmann::json site = {{"apiVersion", "siteplane.io/v1alpha1"},
                         {"kind", "Site"},
                         {"metadata", {{"name", "web"}, {"namespace", "default"}}},
                         {"spec", {{"root", "/srv/www"}}}};
  auto stored = s.server.store->createObject(site);
  REQUIRE(stored.isOk());
  std::string version = (**stored)["metadata"]["resourceVersion"];
  // Bindings: nothing matches, yet the bookmarks carry the store's resourceVersion.
  auto watched = run(s.curl("/apis/siteplane.io/v1alpha1/namespaces/default/bindings?watch=1&"
                            "allowWatchBookmarks=true&timeoutSeconds=1",
                            {"-N"}),
                     "", kHang);
  INFO(watched.out << watched.err);
  CHECK_THAT(watched.out,
             Catch::Contains(R"({"object":{"apiVersion":"siteplane.io/v1alpha1","kind":"Binding",)"
                             R"("metadata":{"resourceVersion":")" +
                             version + R"("}},"type":"BOOKMARK"})"));
  auto plain = run(s.curl("/apis/siteplane.io/v1alpha1/namespaces/default/bindings?watch=1&"
                          "timeoutSeconds=1",
                          {"-N"}),
                   "", kHang);
  CHECK_THAT(plain.out, !Catch::Contains("BOOKMARK"));
}

TEST_CASE("A watch whose client stops reading is ended instead of buffering without bound",
          "[apiserver][https][watch]") {
  Server s([](ApiServerOptions& options) { options.maxWatchBacklogBytes = 64 * 1024; });
  TlsClient client(s.server->port(), 4096);
  REQUIRE(client.handshake());
  REQUIRE(client.send(watchRequest(s.server->credentials().token)));

  constexpr int kEvents = 40;  // 20 MiB for a watch allowed 64 KiB
  createPaddedSites(*s.store, kEvents);

  // Reading now: the stream ends (the server closed it) before the last event.
  std::string received = client.readAll();
  CHECK(received.find("\"name\":\"site-" + std::to_string(kEvents - 1) + "\"") ==
        std::string::npos);
  // Everyone else is still served.
  auto health = s.curl({s.server->url() + "/healthz"});
  CHECK(Server::code(health) == 200);
}

TEST_CASE("Slow watches together are bounded: past the total, the one holding most is ended",
          "[apiserver][https][watch][bounds]") {
  // Each watch alone may hold 64 MiB, more than all the events below; together only 1 MiB.
  Server s([](ApiServerOptions& options) {
    options.maxWatchBacklogBytes = 64 * 1024 * 1024;
    options.maxWatchBacklogTotalBytes = 1024 * 1024;
  });
  std::vector<std::unique_ptr<TlsClient>> watchers;
  for (int i = 0; i < 3; ++i) {
    watchers.push_back(std::make_unique<TlsClient>(s.server->port(), 4096));
    REQUIRE(watchers.back()->handshake());
    REQUIRE(watchers.back()->send(watchRequest(s.server->credentials().token)));
  }
  constexpr int kEvents = 40;
  createPaddedSites(*s.store, kEvents);
  for (auto& watcher : watchers) {
    std::string received = watcher->readAll();
    CHECK(received.find("\"name\":\"site-" + std::to_string(kEvents - 1) + "\"") ==
          std::string::npos);
  }
  CHECK(Server::code(s.curl({s.server->url() + "/healthz"})) == 200);
}

TEST_CASE(
    "A request without the token is answered 401 once its head is in; its body is never "
    "waited for",
    "[apiserver][https][bounds]") {
  Server s;
  TlsClient client(s.server->port());
  REQUIRE(client.handshake());
  // Declares the largest body allowed and sends none of it: without the early check the server
  // would wait for 3 MiB before it looked at the token.
  REQUIRE(
      client.send("POST /apis/siteplane.io/v1alpha1/namespaces/default/sites HTTP/1.1\r\n"
                  "Host: api\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n"
                  "Authorization: Bearer wrong\r\n\r\n"));
  std::string answer = client.readAll();
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 401 Unauthorized\r\n", 0) == 0);
  CHECK_THAT(answer, Catch::Contains("Connection: close"));
  CHECK_THAT(answer, Catch::Contains("invalid bearer token"));

  // The probes stay open, and a request with the token is not refused early.
  TlsClient probe(s.server->port());
  REQUIRE(probe.handshake());
  REQUIRE(probe.send("GET /healthz HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n"));
  CHECK(probe.readAll().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  auto created = s.curl({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                         R"({"metadata":{"name":"web"},"spec":{"root":"/srv/www"}})",
                         s.server->url() + "/apis/siteplane.io/v1alpha1/namespaces/default/sites"});
  CHECK(Server::code(created) == 201);
}

TEST_CASE("An API request trickled past the request timeout gets 408 and the connection closes",
          "[apiserver][https][bounds]") {
  Server s([](ApiServerOptions& options) { options.requestTimeout = std::chrono::seconds(1); });
  TlsClient client(s.server->port());
  REQUIRE(client.handshake());
  REQUIRE(client.send("GET /healthz HTTP/1.1\r\nHost: api\r\n"));  // never finished
  std::string answer = client.readAll();
  INFO(answer);
  CHECK(answer.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
  CHECK_THAT(answer, Catch::Contains("\"code\":408"));
  CHECK(Server::code(s.curl({s.server->url() + "/healthz"})) == 200);
}

TEST_CASE("API headers above 64 KiB are answered 431 in the status line and the body alike",
          "[apiserver][https][bounds]") {
  Server s;
  TlsClient client(s.server->port());
  REQUIRE(client.handshake());
  REQUIRE(client.send(
      "GET /healthz HTTP/1.1\r\nHost: api\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n"));
  std::string answer = client.readAll();
  INFO(answer.substr(0, 400));
  CHECK(answer.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0) == 0);
  CHECK_THAT(answer, Catch::Contains("\"code\":431"));
  CHECK_THAT(answer, Catch::Contains("\"reason\":\"RequestHeaderFieldsTooLarge\""));
}

TEST_CASE("API connections beyond the limits are reset as they are accepted, and slots come back",
          "[apiserver][https][bounds]") {
  auto tryLimit = [](const std::function<void(ApiServerOptions&)>& configure, size_t allowed) {
    Server s(configure);
    std::vector<std::unique_ptr<TlsClient>> held;
    for (size_t i = 0; i < allowed; ++i) {
      held.push_back(std::make_unique<TlsClient>(s.server->port()));
      REQUIRE(held.back()->handshake());
    }
    {
      TlsClient refused(s.server->port());
      CHECK_FALSE(refused.handshake());
    }
    held.pop_back();  // one closes: its slot is free again (once the server saw the close)
    bool admitted = false;
    for (int attempt = 0; attempt < 100 && !admitted; ++attempt) {
      TlsClient again(s.server->port());
      admitted = again.handshake();
      if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(admitted);
  };
  SECTION("in all") {
    tryLimit([](ApiServerOptions& options) { options.maxConnections = 3; }, 3);
  }
  SECTION("per client address") {
    tryLimit([](ApiServerOptions& options) { options.maxConnectionsPerAddress = 2; }, 2);
  }
}

TEST_CASE(
    "The probes-only listener answers /healthz, /readyz and /metrics over plain HTTP, "
    "and nothing else",
    "[controller][apiserver]") {
  Server s([](ApiServerOptions& options) {
    options.probesOnly = true;
    options.stateDir.clear();  // needs none
    options.readyChecks = {{"leader", [] { return std::string(); }, [] { return "leader: a"; }}};
  });
  const std::string base = "http://127.0.0.1:" + std::to_string(s.server->port());
  auto get = [&](const std::string& path) {
    return run({"curl", "-sS", "-w", "\n%{http_code}", base + path});
  };
  CHECK(Server::code(get("/healthz")) == 200);
  auto ready = get("/readyz?verbose");
  CHECK(Server::code(ready) == 200);
  CHECK_THAT(ready.out, Catch::Contains("[+]leader ok (leader: a)"));
  auto metrics = get("/metrics");
  CHECK(Server::code(metrics) == 200);
  CHECK_THAT(metrics.out, Catch::Contains("siteplane_api_requests_total"));
  // No objects, no discovery, no runtime view: it is open to whoever reaches the port.
  for (const char* path : {"/apis/siteplane.io/v1alpha1/sites", "/api", "/version",
                           "/runtime/sslcert", "/healthz/extra"}) {
    INFO(path);
    CHECK(Server::code(get(path)) == 404);
  }
  CHECK_FALSE(std::filesystem::exists(s.state.path() / "kubeconfig"));
}

// The API server over real HTTPS on 127.0.0.1, driven by curl and the real kubectl with the
// kubeconfig the server writes.

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "controller/apiserver/api_server.h"
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
    std::vector<std::string> argv = {kubectlProgram(), "--kubeconfig", server->kubeconfigPath().string(),
                                     "--cache-dir", (state.path() / "kubecache").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CommandResult curl(std::vector<std::string> args, bool withToken = true) const {
    std::vector<std::string> argv = {"curl", "-sS", "--cacert",
                                     (state.path() / "api" / "ca.crt").string(), "-w",
                                     "\n%{http_code}"};
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
  auto malformed = s.curl({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                           "{not json", sites});
  CHECK(Server::code(malformed) == 400);
  auto unknown = s.curl({"-X", "POST", "-H", "Content-Type: text/csv", "--data-binary", "a,b",
                         sites});
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

  auto waited = run(s.kubectl({"wait", "--for=condition=Programmed", "binding/web-http",
                               "--timeout=20s"}));
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
  REQUIRE(waitUntil([&] {
    return run(s.kubectl({"get", "--raw", "/readyz"})).exitCode == 0;
  }));
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
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "20", "--cacert",
                                     (server.state.path() / "api" / "ca.crt").string(), "-H",
                                     "Authorization: Bearer " + server.server->credentials().token};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(server.server->url() + path);
    return argv;
  }

  Gate gate;
  Server server;  // after the gate: destroyed (stopped) first
};

const std::chrono::seconds kHang{20};  // bounds a hang only

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
  // Let /readyz go only once it is with the handler and the later requests had their chance to
  // overtake it.
  std::thread releaser([&s] {
    if (s.gate.waitEntered(kHang)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    s.gate.release();
  });
  auto answered = run({"openssl", "s_client", "-quiet", "-connect",
                       "127.0.0.1:" + std::to_string(s.server.server->port()), "-CAfile",
                       (s.server.state.path() / "api" / "ca.crt").string()},
                      requests, kHang);
  releaser.join();
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
  CHECK_THAT(watched.out, Catch::Contains(
                              R"({"object":{"apiVersion":"siteplane.io/v1alpha1","kind":"Binding",)"
                              R"("metadata":{"resourceVersion":")" + version + R"("}},"type":"BOOKMARK"})"));
  auto plain = run(s.curl("/apis/siteplane.io/v1alpha1/namespaces/default/bindings?watch=1&"
                          "timeoutSeconds=1",
                          {"-N"}),
                   "", kHang);
  CHECK_THAT(plain.out, !Catch::Contains("BOOKMARK"));
}

TEST_CASE("A watch whose client stops reading is ended instead of buffering without bound",
          "[apiserver][https][watch]") {
  Server s([](ApiServerOptions& options) { options.maxWatchBacklogBytes = 64 * 1024; });
  // A TLS client with a tiny receive window that sends a watch request and then reads nothing.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  int window = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
  timeval readTimeout{20, 0};  // bounds a hang only
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &readTimeout, sizeof readTimeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(s.server->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                             SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> tls(SSL_new(context.get()), SSL_free);
  SSL_set_fd(tls.get(), fd);
  REQUIRE(SSL_connect(tls.get()) == 1);
  std::string request = "GET /apis/siteplane.io/v1alpha1/namespaces/default/sites?watch=1 "
                        "HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " +
                        s.server->credentials().token + "\r\n\r\n";
  REQUIRE(SSL_write(tls.get(), request.data(), static_cast<int>(request.size())) > 0);

  // 40 events of half a megabyte: far more than the kernel's buffers and the 64 KiB allowed.
  constexpr int kEvents = 40;
  std::string padding(512 * 1024, 'x');
  for (int i = 0; i < kEvents; ++i) {
    json site = {{"apiVersion", "siteplane.io/v1alpha1"},
                 {"kind", "Site"},
                 {"metadata",
                  {{"name", "site-" + std::to_string(i)},
                   {"namespace", "default"},
                   {"annotations", {{"example.test/padding", padding}}}}},
                 {"spec", {{"root", "/srv/www"}}}};
    REQUIRE(s.store->createObject(site).isOk());
  }

  // Reading now: the stream ends (the server closed it) before the last event.
  std::string received;
  char buffer[64 * 1024];
  for (;;) {
    int n = SSL_read(tls.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  CHECK(received.find("\"name\":\"site-" + std::to_string(kEvents - 1) + "\"") ==
        std::string::npos);
  // Everyone else is still served.
  auto health = s.curl({s.server->url() + "/healthz"});
  CHECK(Server::code(health) == 200);
}

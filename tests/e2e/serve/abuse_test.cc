// Hostile clients against the real `siteplane serve`: connections closed (FIN) and reset (RST) at
// every stage on every listener (https and http data plane, the TLS API with its bearer token),
// and request heads RFC 9112 says to refuse. No peer behaviour may end the process.

#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

std::string abuseClient() { return (sourceDir() / "tests/e2e/serve/abuse_client.py").string(); }

// Serves www/ (with a file large enough that its response is still being written when the
// client goes) over http and https; returns {http port, https port}.
std::pair<int, int> serveWithLargeFile(Server& server) {
  {
    std::ofstream large(server.root() / "large.bin", std::ios::binary);
    std::string block(1 << 20, 'x');
    for (int i = 0; i < 32; ++i) large << block;
  }
  int http = freePort();
  int https = freePort();
  server.write("site.yaml",
               documents({siteYaml("web", server.root().string()), selfSignedIssuerYaml(),
                          issuedCertificateYaml("web-tls", "self", {"localhost"}),
                          bindingYaml("web-http", "web", "http", http),
                          bindingYaml("web-https", "web", "https", https, "", "web-tls")}));
  server.start();
  REQUIRE(waitUntil([&] { return httpGet(http) == "hello from siteplane\n 200"; }, kDeadline));
  REQUIRE(waitUntil(
      [&] { return server.condition("Binding", "web-https", "Programmed") == "True/Programmed"; },
      kDeadline));
  return {http, https};
}

int apiPort(const Server& server) {
  std::string log = server.log();
  auto at = log.find("api_listening url=https://127.0.0.1:");
  REQUIRE(at != std::string::npos);
  return std::stoi(log.substr(at + std::string("api_listening url=https://127.0.0.1:").size()));
}

std::string apiToken(const Server& server) {
  std::string token = readFile(server.state() / "api" / "token");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

CommandResult runAbuse(Server& server, std::vector<std::string> args) {
  std::vector<std::string> argv = {"python3", abuseClient(), "--pid",
                                   std::to_string(server.process().pid())};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run(argv, "", std::chrono::seconds(240));
  UNSCOPED_INFO(result.out << result.err << "\n--- server log tail ---\n"
                           << server.log().substr(
                                  server.log().size() > 3000 ? server.log().size() - 3000 : 0));
  return result;
}

}  // namespace

TEST_CASE("siteplane serve survives connections closed and reset at every stage on every listener",
          "[e2e][serve][abuse]") {
  Server server;
  auto [http, https] = serveWithLargeFile(server);
  const std::string api = std::to_string(apiPort(server));

  SECTION("the API listener (TLS, bearer token), including a watch") {
    // The reported attack: a request to the API and an early close killed the process (SIGPIPE).
    auto result = runAbuse(
        server, {"--name", "api", "--port", api, "--tls", "--api", "--token", apiToken(server)});
    CHECK(result.exitCode == 0);
    CHECK(result.out.find("ok api watch reset") != std::string::npos);
  }
  SECTION("the https data-plane listener") {
    auto result = runAbuse(server, {"--name", "https", "--port", std::to_string(https), "--tls",
                                    "--large", "/large.bin"});
    CHECK(result.exitCode == 0);
    CHECK(result.out.find("ok https pipelined reset") != std::string::npos);
  }
  SECTION("the plain http data-plane listener") {
    auto result = runAbuse(
        server, {"--name", "http", "--port", std::to_string(http), "--large", "/large.bin"});
    CHECK(result.exitCode == 0);
    CHECK(result.out.find("ok http pipelined reset") != std::string::npos);
  }
  CHECK(server.process().running());
  CHECK(httpGet(http) == "hello from siteplane\n 200");
  CHECK(server.process().stop(SIGTERM) == 0);
}

TEST_CASE("siteplane serve answers 400 and closes for request heads RFC 9112 says to reject",
          "[e2e][serve][abuse]") {
  Server server;
  auto [http, https] = serveWithLargeFile(server);
  const std::string api = std::to_string(apiPort(server));
  // Whitespace before the colon of Transfer-Encoding, two Host lines, a bare LF hiding a second
  // Host, obs-fold, Content-Length with Transfer-Encoding, chunk data not followed by CRLF: on
  // each listener, the same answer.
  CHECK(
      runAbuse(server, {"--name", "http", "--port", std::to_string(http), "--refused"}).exitCode ==
      0);
  CHECK(runAbuse(server, {"--name", "https", "--port", std::to_string(https), "--tls", "--refused"})
            .exitCode == 0);
  CHECK(runAbuse(server, {"--name", "api", "--port", api, "--tls", "--api", "--token",
                          apiToken(server), "--refused"})
            .exitCode == 0);
  CHECK(server.process().running());
}

}  // namespace siteplane::testing

// End-to-end: the site the Host header selects decides, on every request, whatever site the
// handshake was made for. Two sites share one certificate on one port, so SNI naming one and Host
// naming the other is not a 421 by certificate; each trusts its own client CA and one of them is
// TLS 1.3 only. Real openssl s_client (sessions saved and resumed) against the dataplane_harness.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace siteplane::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Reply {
  int status = 0;
  std::string substatus;  // the X-Status header ("403.16"), "" without one
  bool reused = false;    // s_client resumed the session it was given
  std::string output;
};

struct Client {
  std::string sni;
  std::string host;
  const TestCertificate* certificate = nullptr;
  std::string tls = "-tls1_3";  // or "-tls1_2"
  fs::path sessionOut = {};
  fs::path sessionIn = {};
};

// One request over one openssl s_client connection.
Reply request(int port, const Client& client) {
  std::vector<std::string> argv = {
      "openssl",     "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
      "-servername", client.sni, client.tls, "-ign_eof"};
  if (client.certificate)
    argv.insert(argv.end(), {"-cert", client.certificate->cert.string(), "-key",
                             client.certificate->key.string()});
  if (!client.sessionOut.empty())
    argv.insert(argv.end(), {"-sess_out", client.sessionOut.string()});
  if (!client.sessionIn.empty()) argv.insert(argv.end(), {"-sess_in", client.sessionIn.string()});
  auto result =
      run(argv, "GET / HTTP/1.1\r\nHost: " + client.host + "\r\nConnection: close\r\n\r\n", 20s);
  Reply reply;
  reply.output = result.out + result.err;
  auto line = result.out.find("HTTP/1.1 ");
  if (line != std::string::npos) reply.status = std::stoi(result.out.substr(line + 9, 3));
  auto status = result.out.find("X-Status: ");
  if (status != std::string::npos)
    reply.substatus = result.out.substr(status + 10, result.out.find('\r', status) - status - 10);
  reply.reused = result.out.find("Reused, TLS") != std::string::npos;
  return reply;
}

struct Fixture {
  TempDir dir;
  TestCertificate shared, caA, caB, clientA, clientB;
  int port = freePort();
  std::unique_ptr<Process> server;

  Fixture() {
    fs::path certs = dir.path() / "certs";
    shared = makeCertificate(certs, "shared", {"a.test", "b.test", "legacy.test", "modern.test"});
    caA = makeCertificate(certs, "ca-a", {}, nullptr, true);
    caB = makeCertificate(certs, "ca-b", {}, nullptr, true);
    clientA = makeCertificate(certs, "client-a", {"alice.test"}, &caA);
    clientB = makeCertificate(certs, "client-b", {"bob.test"}, &caB);
    dir.write("www-a/index.html", "site A\n");
    dir.write("www-b/index.html", "site B\n");
    dir.write("www/index.html", "open\n");
    auto binding = [&](const std::string& name, const std::string& site, const std::string& host) {
      return "{\"name\": \"" + name + "\", \"site\": \"" + site +
             "\", \"protocol\": \"https\", \"address\": \"127.0.0.1\", \"port\": " +
             std::to_string(port) + ", \"hostName\": \"" + host +
             "\", \"certificate\": \"shared\"}";
    };
    dir.write(
        "table.json",
        "{\"sites\": {"
        "\"a\": {\"root\": \"www-a\", \"clientCertificate\": \"Require\", \"clientCAFiles\": [\"" +
            caA.cert.string() +
            "\"]},"
            "\"b\": {\"root\": \"www-b\", \"clientCertificate\": \"Require\", \"clientCAFiles\": "
            "[\"" +
            caB.cert.string() +
            "\"]},"
            "\"legacy\": {\"root\": \"www\"},"
            "\"modern\": {\"root\": \"www\", \"minTLSVersion\": \"1.3\"}},"
            "\"certificates\": {\"shared\": {\"certificateFile\": \"" +
            shared.cert.string() + "\", \"privateKeyFile\": \"" + shared.key.string() +
            "\"}},"
            "\"bindings\": [" +
            binding("a", "a", "a.test") + "," + binding("b", "b", "b.test") + "," +
            binding("legacy", "legacy", "legacy.test") + "," +
            binding("modern", "modern", "modern.test") + "]}");
    std::vector<std::string> argv = {
        (fs::path(SITEPLANE_BINARY_DIR) / "dataplane_harness").string(), "--config",
        (dir.path() / "table.json").string(), "--workers", "1"};
    server = std::make_unique<Process>(argv);
    bool ready = server->waitForOutput("ready generation=1");
    INFO(server->output());
    REQUIRE(ready);
  }
};

}  // namespace

TEST_CASE(
    "A client certificate from another site's CA gets 403.16 from the site the Host selects, over "
    "TLS 1.2 and 1.3",
    "[e2e][dataplane][tls]") {
  Fixture f;
  for (std::string version : {"-tls1_2", "-tls1_3"}) {
    INFO(version);
    // The baseline: each site serves its own clients.
    auto own = request(f.port, {"b.test", "b.test", &f.clientB, version});
    CHECK(own.status == 200);
    CHECK(own.output.find("site B") != std::string::npos);
    // SNI names B (whose context verified the certificate), Host names A: A's CA did not issue it.
    auto crossed = request(f.port, {"b.test", "a.test", &f.clientB, version});
    INFO(crossed.output);
    CHECK(crossed.status == 403);
    CHECK(crossed.substatus == "403.16");
    CHECK(crossed.output.find("site A") == std::string::npos);
    // A's own client reaches A through B's handshake: B's context asked for a B certificate, so the
    // client had no chance to present its A certificate. 421: reconnect with SNI naming A.
    auto without = request(f.port, {"b.test", "a.test", nullptr, version});
    CHECK(without.status == 421);
    CHECK(request(f.port, {"a.test", "a.test", &f.clientA, version}).status == 200);
  }
}

TEST_CASE("A resumed session is judged by the client CAs of the site the Host selects",
          "[e2e][dataplane][tls]") {
  Fixture f;
  for (std::string version : {"-tls1_2", "-tls1_3"}) {
    INFO(version);
    fs::path session = f.dir.path() / ("session" + version);
    auto first = request(f.port, {"b.test", "b.test", &f.clientB, version, session, {}});
    REQUIRE(first.status == 200);
    REQUIRE(fs::exists(session));

    // Resumed with the same SNI: the session carries B's verification, the Host names A.
    auto crossed = request(f.port, {"b.test", "a.test", nullptr, version, {}, session});
    INFO(crossed.output);
    REQUIRE(crossed.reused);
    CHECK(crossed.status == 403);
    CHECK(crossed.substatus == "403.16");
    CHECK(crossed.output.find("site A") == std::string::npos);

    // Resumed under SNI A: the session was verified by B's context, not A's.
    auto renamed = request(f.port, {"a.test", "a.test", nullptr, version, {}, session});
    INFO(renamed.output);
    if (renamed.reused) {
      CHECK(renamed.status == 403);
      CHECK(renamed.substatus == "403.16");
    }
    CHECK(renamed.output.find("site A") == std::string::npos);

    // B still serves the resumed session.
    auto again = request(f.port, {"b.test", "b.test", nullptr, version, {}, session});
    CHECK(again.reused);
    CHECK(again.status == 200);
  }
}

TEST_CASE(
    "A TLS 1.2 connection made for a 1.2 site gets 421 from a TLS 1.3-only site it names in Host",
    "[e2e][dataplane][tls]") {
  Fixture f;
  // The 1.3-only site refuses TLS 1.2 at the handshake.
  auto direct = request(f.port, {"modern.test", "modern.test", nullptr, "-tls1_2"});
  CHECK(direct.status == 0);
  // Through the 1.2 site's handshake, the Host naming the 1.3-only site gets 421.
  auto crossed = request(f.port, {"legacy.test", "modern.test", nullptr, "-tls1_2"});
  INFO(crossed.output);
  CHECK(crossed.status == 421);
  // Over TLS 1.3 the same crossing satisfies the site's policy.
  CHECK(request(f.port, {"legacy.test", "modern.test", nullptr, "-tls1_3"}).status == 200);
  CHECK(request(f.port, {"legacy.test", "legacy.test", nullptr, "-tls1_2"}).status == 200);
}

}  // namespace siteplane::testing

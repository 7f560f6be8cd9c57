// `siteplane show sslcert` and `siteplane explain` against a real `siteplane serve`: what they
// report is what clients get (openssl s_client, curl), and it follows manifest edits.

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

CommandResult siteplane(const Server& server, std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), siteplaneBinary());
  arguments.insert(arguments.end(), {"--state", server.state().string()});
  return run(arguments, "", seconds(30));
}

// `show sslcert -o json`, or null when the command fails.
json sslcerts(const Server& server) {
  auto shown = siteplane(server, {"show", "sslcert", "-o", "json"});
  if (shown.exitCode != 0) return nullptr;
  return json::parse(shown.out, nullptr, false);
}

// The sslcert row of a host name on a port, or null.
json sslcertRow(const json& report, const std::string& hostName, int port) {
  if (!report.is_object()) return nullptr;
  for (const auto& row : report.value("sslcerts", json::array()))
    if (row.value("hostName", "") == hostName && row.value("port", 0) == port) return row;
  return nullptr;
}

// The certificate hash show sslcert lists for a host name on a port, "" without such a row.
std::string listedHash(const json& report, const std::string& hostName, int port) {
  json row = sslcertRow(report, hostName, port);
  return row.is_object() ? row.value("certificateHash", "") : "";
}

json explainJson(const Server& server, std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), {"explain", "-o", "json"});
  auto explained = siteplane(server, arguments);
  INFO(explained.err);
  REQUIRE(explained.exitCode == 0);
  return json::parse(explained.out);
}

// What a real client gets over https: "<status>" or "" when the connection or handshake fails.
std::string httpsStatus(int port, const std::string& sni, const std::string& host) {
  auto result = run({"curl", "-sk", "-o", "/dev/null", "--max-time", "5", "-w", "%{http_code}",
                     "--resolve", sni + ":" + std::to_string(port) + ":127.0.0.1", "-H",
                     "Host: " + host, "https://" + sni + ":" + std::to_string(port) + "/"},
                    "", seconds(10));
  return result.exitCode == 0 ? result.out : "";
}

std::string siteWithSsl(const std::string& name, const std::string& root, const std::string& ssl) {
  return siteYaml(name, root) + "  ssl:\n" + ssl;
}

}  // namespace

TEST_CASE("show sslcert lists the certificate the data plane serves and follows manifest edits",
          "[e2e][cli][serve][runtime]") {
  Server server;
  const int port = freePort();
  auto a = makeCertificate(server.dir().path() / "certs", "a", {"a.test"});
  auto b = makeCertificate(server.dir().path() / "certs", "b", {"b.test"});
  auto renewed = makeCertificate(server.dir().path() / "certs", "a2", {"a.test"});
  server.write("sites.yaml",
               documents({siteYaml("web", server.root().string()), importedCertificateYaml("a", a),
                          bindingYaml("a-https", "web", "https", port, "a.test", "a")}));
  server.start();

  json first;
  REQUIRE(waitUntil(
      [&] {
        first = sslcerts(server);
        return !sslcertRow(first, "a.test", port).is_null();
      },
      kDeadline));
  INFO(first.dump(2));
  json row = sslcertRow(first, "a.test", port);
  CHECK(row["certificateHash"] == a.thumbprint);
  CHECK(servedThumbprint(port, "a.test") == a.thumbprint);
  CHECK(row["address"] == "127.0.0.1");
  CHECK(row["binding"] == "default/a-https");
  CHECK(row["site"] == "default/web");
  CHECK(row["certificate"] == "default/a");
  CHECK(row["clientCertificate"] == "Ignore");
  CHECK(row["minTLSVersion"] == "1.2");
  CHECK(row["certificateStore"] ==
        (server.state() / "certificates" / "default" / "a" / "tls.key").string());
  CHECK(row["importedFrom"] == a.cert.string());
  const uint64_t generation = first["generation"].get<uint64_t>();
  CHECK(generation >= 1);

  // The netsh-like listing says the same.
  auto listed = siteplane(server, {"show", "sslcert"});
  REQUIRE(listed.exitCode == 0);
  CHECK_THAT(listed.out,
             Catch::Contains("Hostname:port                : a.test:" + std::to_string(port)));
  CHECK_THAT(listed.out, Catch::Contains("Certificate Hash             : " + a.thumbprint));
  // A status write may have recompiled the table since: the generation only grows.
  auto at = listed.out.find("Table Generation             : ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stoull(listed.out.substr(at + 31)) >= generation);
  auto table = siteplane(server, {"show", "sslcert", "-o", "table"});
  CHECK_THAT(table.out, Catch::Contains("CERTIFICATE HASH"));
  CHECK_THAT(table.out, Catch::Contains(a.thumbprint));

  // A new binding and a replaced certificate show up once the next table is live.
  server.write("sites.yaml",
               documents({siteYaml("web", server.root().string()),
                          importedCertificateYaml("a", renewed), importedCertificateYaml("b", b),
                          bindingYaml("a-https", "web", "https", port, "a.test", "a"),
                          bindingYaml("b-https", "web", "https", port, "b.test", "b")}));
  json second;
  CHECK(waitUntil(
      [&] {
        second = sslcerts(server);
        return listedHash(second, "a.test", port) == renewed.thumbprint &&
               listedHash(second, "b.test", port) == b.thumbprint;
      },
      kDeadline));
  INFO(second.dump(2));
  CHECK(second["generation"].get<uint64_t>() > generation);
  CHECK(servedThumbprint(port, "a.test") == renewed.thumbprint);
  CHECK(servedThumbprint(port, "b.test") == b.thumbprint);

  // Narrowed like netsh's hostnameport=: only that binding.
  auto narrowed = siteplane(server, {"show", "sslcert", "--hostname", "B.test", "--port",
                                     std::to_string(port), "-o", "json"});
  REQUIRE(narrowed.exitCode == 0);
  json only = json::parse(narrowed.out);
  REQUIRE(only["sslcerts"].size() == 1);
  CHECK(only["sslcerts"][0]["certificateHash"] == b.thumbprint);
}

TEST_CASE("explain tells which binding, certificate and site policy win, as clients see them",
          "[e2e][cli][serve][runtime]") {
  Server server;
  const int https = freePort();
  const int http = freePort();
  const int unused = freePort();
  auto a = makeCertificate(server.dir().path() / "certs", "a", {"a.test"});
  auto b = makeCertificate(server.dir().path() / "certs", "b", {"b.test"});
  server.write("sites.yaml",
               documents({siteYaml("web", server.root().string()),
                          siteWithSsl("secure", server.root().string(), "    requireSSL: true\n"),
                          importedCertificateYaml("a", a), importedCertificateYaml("b", b),
                          bindingYaml("a-https", "web", "https", https, "a.test", "a"),
                          bindingYaml("b-https", "web", "https", https, "b.test", "b"),
                          bindingYaml("secure-http", "secure", "http", http)}));
  server.start();
  for (const char* binding : {"a-https", "b-https", "secure-http"}) {
    INFO(binding);
    REQUIRE(waitUntil(
        [&] { return server.condition("Binding", binding, "Programmed") == "True/Programmed"; },
        kDeadline));
  }
  const std::string httpsPort = std::to_string(https);

  SECTION("SNI and Host agree: served, with the certificate openssl sees") {
    json served = explainJson(server, {"--port", httpsPort, "--sni", "a.test"});
    CHECK(served["result"] == "Response");
    CHECK(served["response"]["status"] == 200);
    CHECK(served["certificate"]["certificateHash"] == a.thumbprint);
    CHECK(served["route"]["binding"] == "default/a-https");
    CHECK(served["site"]["name"] == "default/web");
    CHECK(servedThumbprint(https, "a.test") == a.thumbprint);
    CHECK(httpsStatus(https, "a.test", "a.test") == "200");

    auto text = siteplane(server, {"explain", "--port", httpsPort, "--sni", "a.test"});
    REQUIRE(text.exitCode == 0);
    CHECK_THAT(text.out, Catch::Contains("Result:       200: served by site default/web through "
                                         "binding default/a-https"));
    CHECK_THAT(text.out, Catch::Contains("TLS: SNI \"a.test\" selects binding default/a-https"));
  }

  SECTION("a Host whose binding has another certificate than the SNI's: 421") {
    json misdirected =
        explainJson(server, {"--port", httpsPort, "--sni", "a.test", "--host", "b.test"});
    CHECK(misdirected["response"]["status"] == 421);
    CHECK(misdirected["certificate"]["certificateHash"] == a.thumbprint);
    CHECK(misdirected["route"]["binding"] == "default/b-https");
    CHECK(httpsStatus(https, "a.test", "b.test") == "421");
  }

  SECTION("an SNI no binding claims, with no default certificate: unrecognized_name") {
    json unknown = explainJson(server, {"--port", httpsPort, "--sni", "unknown.test"});
    CHECK(unknown["result"] == "HandshakeFailed");
    CHECK(unknown["summary"] == "TLS handshake fails: unrecognized_name");
    CHECK(servedThumbprint(https, "unknown.test").empty());
    CHECK(httpsStatus(https, "unknown.test", "unknown.test").empty());
  }

  SECTION("plain http to a requireSSL site: 403.4") {
    json locked = explainJson(server, {"--port", std::to_string(http), "--host", "anything.test"});
    CHECK(locked["listener"]["protocol"] == "http");
    CHECK(locked["response"]["status"] == 403);
    CHECK(locked["response"]["substatus"] == 4);
    CHECK(locked["route"]["binding"] == "default/secure-http");
    auto answer = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                       "Host: anything.test", "http://127.0.0.1:" + std::to_string(http) + "/"});
    CHECK(answer.out == "403");
  }

  SECTION("a port nothing listens on: connection refused") {
    json refused = explainJson(server, {"--port", std::to_string(unused)});
    CHECK(refused["result"] == "ConnectionRefused");
    CHECK(refused["summary"] ==
          "connection refused: nothing listens on 127.0.0.1:" + std::to_string(unused));
    CHECK(httpGet(unused).empty());
  }
}

TEST_CASE("show sslcert and explain say when the data plane could not open a binding's port",
          "[e2e][cli][serve][runtime]") {
  Server server;
  const int busy = freePort();
  PortBlocker blocker(busy);
  auto a = makeCertificate(server.dir().path() / "certs", "a", {"a.test"});
  server.write("sites.yaml",
               documents({siteYaml("web", server.root().string()), importedCertificateYaml("a", a),
                          bindingYaml("a-https", "web", "https", busy, "a.test", "a")}));
  server.start();
  REQUIRE(waitUntil(
      [&] {
        return server.condition("Binding", "a-https", "Programmed") == "False/PortUnavailable";
      },
      kDeadline));
  json row;
  REQUIRE(waitUntil(
      [&] {
        row = sslcertRow(sslcerts(server), "a.test", busy);
        return !row.is_null();
      },
      kDeadline));
  CHECK(row["listening"] == false);
  CHECK_THAT(row["listenerError"].get<std::string>(), Catch::Contains("address already in use"));
  CHECK_THAT(siteplane(server, {"show", "sslcert"}).out,
             Catch::Contains("Listening                    : No - "));

  json blocked = explainJson(server, {"--port", std::to_string(busy), "--sni", "a.test"});
  CHECK(blocked["result"] == "NotListening");
  CHECK_THAT(blocked["summary"].get<std::string>(),
             Catch::StartsWith("not served by siteplane: 127.0.0.1:" + std::to_string(busy) +
                               " is not open"));
}

TEST_CASE("show sslcert and explain refuse bad arguments with one line and help on request",
          "[e2e][cli][runtime]") {
  TempDir dir;
  auto binary = siteplaneBinary();
  auto badPort = run({binary, "explain", "--port", "70000", "--state", dir.path().string()});
  CHECK(badPort.exitCode == 2);
  CHECK(badPort.err == "error: --port: \"70000\" is not a port number (1-65535)\n");
  auto badAddress = run({binary, "explain", "--address", "example.test", "--port", "80", "--state",
                         dir.path().string()});
  CHECK(badAddress.exitCode == 2);
  CHECK(badAddress.err == "error: --address: \"example.test\" is not an IPv4 or IPv6 address\n");

  auto badFilter = run({binary, "show", "sslcert", "--port", "0", "--state", dir.path().string()});
  CHECK(badFilter.exitCode == 2);
  CHECK(badFilter.err == "error: --port: \"0\" is not a port number (1-65535)\n");

  // No server: one line naming what is missing.
  auto noServer = run({binary, "show", "sslcert", "--state", dir.path().string()});
  CHECK(noServer.exitCode == 1);
  CHECK_THAT(noServer.err, Catch::StartsWith("error: "));
  CHECK(std::count(noServer.err.begin(), noServer.err.end(), '\n') == 1);

  for (std::vector<std::string> help : {std::vector<std::string>{"show", "--help"},
                                        {"show", "sslcert", "--help"},
                                        {"explain", "--help"}}) {
    help.insert(help.begin(), binary);
    auto shown = run(help);
    CHECK(shown.exitCode == 0);
    CHECK_THAT(shown.out, Catch::Contains("Usage"));
  }
}

}  // namespace siteplane::testing

// What an operator sees of a running `siteplane serve`: /readyz, and /metrics moving with the
// requests, handshakes and reconciles it serves.

#include <catch2/catch.hpp>
#include <optional>
#include <sstream>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

std::string certificateYaml(const std::string& name, const std::string& dnsName) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Certificate\nmetadata:\n  name: " + name +
         "\nspec:\n  dnsNames: [" + dnsName + "]\n  issuerRef:\n    name: self\n";
}

// The API of a started server, as its log and state directory describe it.
class Api {
 public:
  explicit Api(const Server& server)
      : caFile_((server.state() / "api" / "ca.crt").string()),
        token_(readFile(server.state() / "api" / "token")) {
    const std::string log = server.log();
    auto at = log.find("api_listening url=");
    if (at == std::string::npos) throw std::runtime_error("no api_listening line:\n" + log);
    at += 18;
    url_ = log.substr(at, log.find(' ', at) - at);
    while (!token_.empty() && std::isspace(static_cast<unsigned char>(token_.back())))
      token_.pop_back();
  }

  // "<code>\n<body>" of a GET, with the bearer token or without.
  std::pair<int, std::string> get(const std::string& path, bool withToken) const {
    std::vector<std::string> argv = {"curl",     "-s",    "--max-time", "10",
                                     "--cacert", caFile_, "-w",         "\n%{http_code}"};
    if (withToken) argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token_});
    argv.push_back(url_ + path);
    auto result = run(argv, "", std::chrono::seconds(15));
    auto newline = result.out.rfind('\n');
    if (result.exitCode != 0 || newline == std::string::npos) return {0, result.out + result.err};
    return {std::atoi(result.out.c_str() + newline + 1), result.out.substr(0, newline)};
  }

 private:
  std::string caFile_;
  std::string token_;
  std::string url_;
};

// The value of one series ("name{labels}" exactly as exposed), nullopt when it is not there.
std::optional<double> sample(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

double valueOr0(const std::string& exposition, const std::string& series) {
  return sample(exposition, series).value_or(0);
}

}  // namespace

TEST_CASE(
    "siteplane serve is ready once its first table is live and its metrics follow what it "
    "serves",
    "[e2e][serve][metrics]") {
  Server server;
  const int port = freePort();
  // Two sites on one port, each with its own certificate.
  server.write(
      "web.yaml",
      documents(
          {selfSignedIssuerYaml(), certificateYaml("web-tls", "www.metrics.test"),
           certificateYaml("other-tls", "other.metrics.test"),
           siteYaml("web", server.root().string()), siteYaml("other", server.root().string()),
           bindingYaml("web-https", "web", "https", port, "www.metrics.test", "web-tls"),
           bindingYaml("other-https", "other", "https", port, "other.metrics.test", "other-tls")}));
  server.start();
  for (const char* binding : {"web-https", "other-https"}) {
    REQUIRE(waitUntil(
        [&] { return server.condition("Binding", binding, "Programmed") == "True/Programmed"; },
        kDeadline));
  }
  Api api(server);

  SECTION("/readyz is open and 200 with a table live; /metrics needs the token") {
    auto ready = api.get("/readyz", false);
    CHECK(ready.first == 200);
    CHECK(ready.second == "ok");
    auto verbose = api.get("/readyz?verbose", false);
    CHECK(verbose.second == "[+]binding-table ok\nreadyz check passed\n");
    CHECK(api.get("/metrics", false).first == 401);
    CHECK(api.get("/metrics", true).first == 200);
  }

  SECTION("requests, handshakes, failures, reconciles, the table and the certificate show") {
    const std::string authority = "www.metrics.test:" + std::to_string(port);
    auto fetch = [&](const std::string& path, const std::string& host = "") {
      std::vector<std::string> argv = {"curl",
                                       "-sk",
                                       "--max-time",
                                       "5",
                                       "--resolve",
                                       authority + ":127.0.0.1",
                                       "-o",
                                       "/dev/null",
                                       "-w",
                                       "%{http_code}",
                                       "https://" + authority + path};
      if (!host.empty()) argv.insert(argv.end(), {"-H", "Host: " + host});
      return run(argv, "", std::chrono::seconds(10)).out;
    };
    const std::string other = "{site=\"default/other\",code_class=";
    const std::string site = "{site=\"default/web\",code_class=";
    const std::string before = api.get("/metrics", true).second;

    REQUIRE(fetch("/") == "200");
    REQUIRE(fetch("/") == "200");
    REQUIRE(fetch("/missing") == "404");
    // SNI www.metrics.test, Host other.metrics.test: another certificate, so 421 — counted against
    // the site the Host names.
    REQUIRE(fetch("/", "other.metrics.test") == "421");
    // Plain HTTP to the https port, and a TLS 1.2 client offering only RSA key exchange to an
    // ECDSA certificate: two handshakes that fail for different reasons.
    run({"curl", "-s", "--max-time", "5", "http://127.0.0.1:" + std::to_string(port) + "/"}, "",
        std::chrono::seconds(10));
    run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-servername",
         "www.metrics.test", "-tls1_2", "-cipher", "AES128-SHA"},
        "", std::chrono::seconds(10));

    std::string after;
    // The connection counters move when the server has closed the failed connections; wait for it
    // rather than for a fixed time.
    REQUIRE(waitUntil(
        [&] {
          after = api.get("/metrics", true).second;
          return valueOr0(after,
                          "siteplane_tls_handshake_failures_total{reason=\"no_shared_cipher\"}") >
                 valueOr0(before,
                          "siteplane_tls_handshake_failures_total{reason=\"no_shared_cipher\"}");
        },
        kDeadline));
    INFO(after);
    CHECK(valueOr0(after, "siteplane_http_requests_total" + site + "\"2xx\"}") -
              valueOr0(before, "siteplane_http_requests_total" + site + "\"2xx\"}") ==
          2);
    CHECK(valueOr0(after, "siteplane_http_requests_total" + site + "\"4xx\"}") -
              valueOr0(before, "siteplane_http_requests_total" + site + "\"4xx\"}") ==
          1);
    CHECK(valueOr0(after, "siteplane_http_requests_total" + other + "\"4xx\"}") -
              valueOr0(before, "siteplane_http_requests_total" + other + "\"4xx\"}") ==
          1);
    CHECK(valueOr0(after, "siteplane_tls_handshake_failures_total{reason=\"http_request\"}") -
              valueOr0(before, "siteplane_tls_handshake_failures_total{reason=\"http_request\"}") ==
          1);
    CHECK(valueOr0(after, "siteplane_tls_handshakes_total") -
              valueOr0(before, "siteplane_tls_handshakes_total") >=
          4);
    CHECK(valueOr0(after, "siteplane_connections_accepted_total") -
              valueOr0(before, "siteplane_connections_accepted_total") >=
          6);
    CHECK(sample(after, "siteplane_connections_active").has_value());

    CHECK(valueOr0(after, "siteplane_table_generation") >= 1);
    CHECK(sample(after, "siteplane_table_bindings") == 2);
    CHECK(sample(after, "siteplane_table_listeners") == 1);
    CHECK(valueOr0(after, "siteplane_reconcile_duration_seconds_count{kind=\"BindingTable\"}") >=
          1);
    CHECK(valueOr0(after, "siteplane_reconcile_duration_seconds_count{kind=\"Certificate\"}") >= 1);
    CHECK(sample(after, "siteplane_reconcile_errors_total{kind=\"Certificate\"}").has_value());

    CHECK(sample(after, "siteplane_certificate_ready{namespace=\"default\",name=\"web-tls\"}") ==
          1);
    CHECK(sample(after,
                 "siteplane_binding_programmed{namespace=\"default\",name=\"other-https\"}") == 1);
    CHECK(valueOr0(after, "process_resident_memory_bytes") > 0);
    CHECK(valueOr0(after, "process_open_fds") > 0);

    // Issued for the default 2160h: positive, and no further away than that.
    auto expiry = sample(
        after, "siteplane_certificate_expiry_seconds{namespace=\"default\",name=\"web-tls\"}");
    REQUIRE(expiry.has_value());
    CHECK(*expiry > 0);
    CHECK(*expiry <= 2160.0 * 3600);
  }
}

TEST_CASE("siteplane serve with nothing declared becomes ready with an empty table",
          "[e2e][serve][metrics]") {
  Server server;
  server.start();
  Api api(server);
  REQUIRE(waitUntil([&] { return api.get("/readyz", false).first == 200; }, kDeadline));
  auto metrics = api.get("/metrics", true);
  REQUIRE(metrics.first == 200);
  INFO(metrics.second);
  CHECK(valueOr0(metrics.second, "siteplane_table_generation") >= 1);
  CHECK(sample(metrics.second, "siteplane_table_bindings") == 0);
  CHECK(sample(metrics.second, "siteplane_table_listeners") == 0);
  CHECK(sample(metrics.second, "siteplane_connections_active") == 0);
}

}  // namespace siteplane::testing

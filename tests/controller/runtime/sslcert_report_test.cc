#include "controller/runtime/sslcert_report.h"

#include "tests/controller/runtime/runtime_fixture.h"

namespace siteplane::runtime {
namespace {

using testing::fixture;

}  // namespace

TEST_CASE("The sslcert report lists every https binding of the live table with the hash served",
          "[runtime][sslcert]") {
  auto& f = fixture();
  SslCertReport report = sslCertReport(f.table.get());
  CHECK(report.live);
  CHECK(report.generation == 9);
  CHECK(report.bindings == 8);
  REQUIRE(report.entries.size() == 5);  // the http bindings are not SSL bindings

  // Sorted by address, port and host name; the listener's default certificate first.
  std::vector<std::string> order;
  for (const auto& entry : report.entries)
    order.push_back(entry.listener.address + ":" + std::to_string(entry.listener.port) + "/" +
                    entry.hostName);
  CHECK(order == std::vector<std::string>{"*:9443/", "*:9443/secure.test",
                                          "127.0.0.1:8443/*.w.test", "127.0.0.1:8443/a.test",
                                          "127.0.0.1:8443/b.test"});

  const SslCertEntry& fallback = report.entries[0];
  CHECK(fallback.binding == "default/fallback");
  CHECK(fallback.bindingGeneration == 2);
  CHECK(fallback.site == "default/web");
  CHECK(fallback.siteId == 1);
  CHECK(fallback.certificate == "default/a");
  CHECK(fallback.thumbprint == f.a.thumbprint);
  CHECK(fallback.keyStorePath == "/state/certificates/default/a/tls.key");
  CHECK(fallback.importedFrom == f.a.cert.string());
  CHECK(fallback.clientCertificate == table::ClientCertificateMode::kIgnore);
  CHECK(fallback.minTLSVersion == table::TlsVersion::k1_2);

  const SslCertEntry& secure = report.entries[1];
  CHECK(secure.thumbprint == f.b.thumbprint);
  CHECK(secure.importedFrom.empty());
  CHECK(secure.clientCertificate == table::ClientCertificateMode::kRequire);
  CHECK(secure.clientCAs == 1);
  CHECK(secure.minTLSVersion == table::TlsVersion::k1_3);
}

TEST_CASE("The sslcert report says when no table is live", "[runtime][sslcert]") {
  SslCertReport report = sslCertReport(nullptr);
  CHECK_FALSE(report.live);
  CHECK(report.entries.empty());
  nlohmann::json json = toJson(report);
  CHECK(json["live"] == false);
  CHECK(json["generation"] == 0);
  CHECK(json["sslcerts"].is_array());
  CHECK(json["sslcerts"].empty());
}

TEST_CASE("The sslcert report's JSON uses the documented field names", "[runtime][sslcert]") {
  auto& f = fixture();
  nlohmann::json json = toJson(sslCertReport(f.table.get()));
  CHECK(json["live"] == true);
  CHECK(json["generation"] == 9);
  CHECK(json["bindings"] == 8);
  const nlohmann::json& secure = json["sslcerts"][1];
  CHECK(secure == nlohmann::json{{"address", "*"},
                                 {"port", 9443},
                                 {"hostName", "secure.test"},
                                 {"listening", true},
                                 {"listenerError", ""},
                                 {"binding", "default/secure"},
                                 {"bindingGeneration", 2},
                                 {"site", "default/mtls"},
                                 {"siteId", 2},
                                 {"certificate", "default/b"},
                                 {"certificateHash", f.b.thumbprint},
                                 {"certificateStore", "/state/certificates/default/b/tls.key"},
                                 {"importedFrom", ""},
                                 {"clientCertificate", "Require"},
                                 {"clientCAs", 1},
                                 {"minTLSVersion", "1.3"},
                                 {"require128BitCiphers", false}});
}

}  // namespace siteplane::runtime

namespace siteplane::runtime {

TEST_CASE("The sslcert report marks the bindings of a listener the data plane could not open",
          "[runtime][sslcert]") {
  auto& f = fixture();
  SslCertReport report =
      sslCertReport(f.table.get(), {{{"*", 9443}, "*:9443: address already in use"}});
  REQUIRE(report.entries.size() == 5);
  for (const auto& entry : report.entries) {
    INFO(entry.binding);
    CHECK(entry.listening == (entry.listener.port != 9443));
    CHECK(entry.listenerError ==
          (entry.listener.port == 9443 ? "*:9443: address already in use" : ""));
  }
  CHECK(toJson(report)["sslcerts"][0]["listening"] == false);
}

}  // namespace siteplane::runtime

namespace siteplane::runtime {

TEST_CASE("The sslcert report narrows to a listener address, port and host name like netsh",
          "[runtime][sslcert]") {
  auto& f = fixture();
  auto hosts = [&](const std::multimap<std::string, std::string>& parameters) {
    auto filter = parseSslCertFilter(parameters);
    REQUIRE(filter.isOk());
    std::vector<std::string> out;
    for (const auto& entry : sslCertReport(f.table.get(), {}, *filter).entries)
      out.push_back(entry.listener.address + ":" + std::to_string(entry.listener.port) + "/" +
                    entry.hostName);
    return out;
  };
  CHECK(hosts({{"port", "9443"}}) == std::vector<std::string>{"*:9443/", "*:9443/secure.test"});
  CHECK(hosts({{"address", "*"}, {"hostName", ""}}) == std::vector<std::string>{"*:9443/"});
  CHECK(hosts({{"hostName", "B.Test."}}) == std::vector<std::string>{"127.0.0.1:8443/b.test"});
  CHECK(hosts({{"hostName", "*.w.test"}, {"address", "127.0.0.1"}}) ==
        std::vector<std::string>{"127.0.0.1:8443/*.w.test"});
  CHECK(hosts({{"address", "::1"}}).empty());
}

TEST_CASE("A bad sslcert filter names the parameter", "[runtime][sslcert]") {
  const std::vector<std::pair<std::multimap<std::string, std::string>, std::string>> cases = {
      {{{"port", "0"}}, "port: \"0\" is not a port number (1-65535)"},
      {{{"address", "localhost"}},
       "address: \"localhost\" is not \"*\" or an IPv4 or IPv6 address"},
      {{{"host", "a.test"}}, "unknown parameter \"host\" (address, port, hostName)"},
      {{{"port", "1"}, {"port", "2"}}, "port: given more than once"},
  };
  for (const auto& [parameters, message] : cases) {
    auto parsed = parseSslCertFilter(parameters);
    REQUIRE_FALSE(parsed.isOk());
    CHECK(parsed.message() == message);
  }
}

}  // namespace siteplane::runtime

#include "controller/compile/compiler.h"

#include <catch2/catch.hpp>

#include "dataplane/tls/server_context.h"
#include "tests/controller/compile/compile_fixture.h"

namespace siteplane::compile::testing {
namespace {

const ConditionPlan* conditionOf(const BindingPlan& plan, const std::string& type) {
  for (const auto& condition : plan.conditions)
    if (condition.type == type) return &condition;
  return nullptr;
}

std::string reasonOf(const BindingPlan& plan, const std::string& type) {
  const ConditionPlan* found = conditionOf(plan, type);
  return found ? found->reason : "<none>";
}

CompileInput input(std::vector<api::Site> sites, std::vector<api::Binding> bindings,
                   std::vector<api::Certificate> certificates = {}) {
  CompileInput out;
  out.sites = std::move(sites);
  out.bindings = std::move(bindings);
  out.certificates = std::move(certificates);
  out.generation = 7;
  out.now = api::now();
  return out;
}

}  // namespace

TEST_CASE("Compiler puts a resolved http binding in the table and assigns the site id 1",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto out = compiler.compile(
      input({site("web")}, {binding("web-http", "web", api::Protocol::kHttp, 8080)}));

  REQUIRE(out.table);
  CHECK(out.table->generation() == 7);
  const table::Route* route = out.table->route("127.0.0.1", 8080, "anything.test");
  REQUIRE(route);
  CHECK(route->binding == "default/web-http");
  CHECK(route->site->root == "/srv/web");
  CHECK(route->site->siteId == 1);
  REQUIRE(out.bindings.size() == 1);
  CHECK(out.bindings[0].inTable);
  CHECK(reasonOf(out.bindings[0], "Accepted") == "Accepted");
  CHECK(reasonOf(out.bindings[0], "ResolvedRefs") == "ResolvedRefs");
  CHECK(reasonOf(out.bindings[0], "Conflicted") == "NoConflicts");
  CHECK(conditionOf(out.bindings[0], "Programmed") == nullptr);  // decided by the data plane
  REQUIRE(out.sites.size() == 1);
  CHECK(out.sites[0].siteId == 1);
  CHECK(out.sites[0].ready.reason == "RootNotFound");  // /srv/web does not exist here
}

TEST_CASE("Compiler resolves a relative Site root against the manifests directory",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, certificates.dir.path());
  std::filesystem::create_directories(certificates.dir.path() / "www");
  auto web = site("web");
  web.spec.root = "www/./";
  auto out =
      compiler.compile(input({web}, {binding("web-http", "web", api::Protocol::kHttp, 8080)}));
  const table::Route* route = out.table->route("127.0.0.1", 8080, "");
  REQUIRE(route);
  CHECK(route->site->root == (certificates.dir.path() / "www/").lexically_normal());
  CHECK(out.sites[0].ready.reason == "Ready");
}

TEST_CASE("Compiler reports a binding whose site does not exist", "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto out =
      compiler.compile(input({}, {binding("orphan", "missing", api::Protocol::kHttp, 8080)}));
  REQUIRE(out.bindings.size() == 1);
  CHECK_FALSE(out.bindings[0].inTable);
  CHECK(reasonOf(out.bindings[0], "ResolvedRefs") == "SiteNotFound");
  CHECK(conditionOf(out.bindings[0], "ResolvedRefs")->message == "Site default/missing not found");
  CHECK(reasonOf(out.bindings[0], "Programmed") == "RefsNotResolved");
  CHECK(out.table->listeners().empty());
}

TEST_CASE("Compiler lets the oldest binding keep a host and reports the others as conflicted",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto out = compiler.compile(input(
      {site("a"), site("b")},
      {
          binding("young", "b", api::Protocol::kHttp, 8080, "www.example.test", "", 200),
          binding("old", "a", api::Protocol::kHttp, 8080, "WWW.example.test.", "", 100),
          binding("other-host", "b", api::Protocol::kHttp, 8080, "shop.example.test", "", 300),
          binding("wrong-protocol", "b", api::Protocol::kHttps, 8080, "x.example.test", "cert",
                  300),
      },
      {readyCertificate("cert", certificates.put("cert", {"x.example.test"}))}));
  REQUIRE(out.bindings.size() == 4);
  CHECK(reasonOf(out.bindings[0], "Conflicted") == "HostnameConflict");
  CHECK(conditionOf(out.bindings[0], "Conflicted")->status == api::ConditionStatus::kTrue);
  CHECK(conditionOf(out.bindings[0], "Conflicted")->message.find("Binding default/old") !=
        std::string::npos);
  CHECK(reasonOf(out.bindings[0], "Programmed") == "Conflicted");
  CHECK_FALSE(out.bindings[0].inTable);
  CHECK(out.bindings[1].inTable);
  CHECK(out.bindings[2].inTable);
  CHECK(reasonOf(out.bindings[3], "Conflicted") == "ProtocolConflict");
  CHECK_FALSE(out.bindings[3].inTable);
  CHECK(out.table->route("127.0.0.1", 8080, "www.example.test")->binding == "default/old");
}

TEST_CASE("Compiler breaks a creation-time tie by name", "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto out = compiler.compile(
      input({site("a")}, {binding("zeta", "a", api::Protocol::kHttp, 8080, "", "", 100),
                          binding("alpha", "a", api::Protocol::kHttp, 8080, "", "", 100)}));
  CHECK(reasonOf(out.bindings[0], "Conflicted") == "HostnameConflict");
  CHECK(out.bindings[1].inTable);
}

TEST_CASE("Compiler reports certificate references: missing, not ready, host mismatch",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  std::string wwwThumbprint = certificates.put("www", {"www.example.test", "*.apps.example.test"});
  auto notReady = readyCertificate("pending", "");
  notReady.status.conditions[0].status = api::ConditionStatus::kFalse;
  notReady.status.conditions[0].reason = "Issuing";
  notReady.status.conditions[0].message = "waiting for the issuer";
  auto out = compiler.compile(input(
      {site("web")},
      {
          binding("ok", "web", api::Protocol::kHttps, 8443, "www.example.test", "www"),
          binding("wildcard-ok", "web", api::Protocol::kHttps, 8443, "api.apps.example.test",
                  "www"),
          binding("mismatch", "web", api::Protocol::kHttps, 8443, "shop.example.test", "www"),
          binding("two-labels", "web", api::Protocol::kHttps, 8443, "a.b.apps.example.test", "www"),
          binding("missing", "web", api::Protocol::kHttps, 9443, "", "nope"),
          binding("not-ready", "web", api::Protocol::kHttps, 9444, "", "pending"),
          binding("default-cert", "web", api::Protocol::kHttps, 8443, "", "www"),
      },
      {readyCertificate("www", wwwThumbprint), notReady}));
  REQUIRE(out.bindings.size() == 7);
  CHECK(out.bindings[0].inTable);
  REQUIRE(out.bindings[0].tls);
  CHECK(out.bindings[0].tls->thumbprint() == wwwThumbprint);
  CHECK(out.bindings[1].inTable);
  CHECK(reasonOf(out.bindings[2], "ResolvedRefs") == "CertificateHostMismatch");
  CHECK(conditionOf(out.bindings[2], "ResolvedRefs")->message.find("shop.example.test") !=
        std::string::npos);
  CHECK(reasonOf(out.bindings[3], "ResolvedRefs") == "CertificateHostMismatch");
  CHECK(reasonOf(out.bindings[4], "ResolvedRefs") == "CertificateNotFound");
  CHECK(reasonOf(out.bindings[5], "ResolvedRefs") == "CertificateNotReady");
  CHECK(conditionOf(out.bindings[5], "ResolvedRefs")->message.find("waiting for the issuer") !=
        std::string::npos);
  CHECK(out.bindings[6].inTable);  // no host name: the listener's default certificate
  CHECK(out.table->route("127.0.0.1", 8443, "www.example.test")->tls->thumbprint() ==
        wwwThumbprint);
}

TEST_CASE("Compiler refuses a certificate whose stored pair is not the one status names",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  certificates.put("www", {"www.example.test"});
  auto out = compiler.compile(
      input({site("web")}, {binding("b", "web", api::Protocol::kHttps, 8443, "", "www")},
            {readyCertificate("www", "0000000000000000000000000000000000000000")}));
  CHECK(reasonOf(out.bindings[0], "ResolvedRefs") == "CertificateNotReady");
  CHECK(conditionOf(out.bindings[0], "ResolvedRefs")->message.find("is not status.thumbprint") !=
        std::string::npos);
}

TEST_CASE("Compiler never serves an expired certificate even when status still says Ready",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  std::string thumbprint = certificates.put("old", {"old.example.test"}, "1");
  auto in = input({site("web")}, {binding("b", "web", api::Protocol::kHttps, 8443, "", "old")},
                  {readyCertificate("old", thumbprint)});
  in.now = api::now() + std::chrono::hours(48);
  auto out = compiler.compile(in);
  CHECK(reasonOf(out.bindings[0], "ResolvedRefs") == "CertificateNotReady");
  CHECK(conditionOf(out.bindings[0], "ResolvedRefs")->message.find("Expired") != std::string::npos);
}

TEST_CASE("Compiler reuses TLS contexts and rebuilds only those of a changed certificate",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  std::string a = certificates.put("a", {"a.example.test"});
  std::string b = certificates.put("b", {"b.example.test"});
  auto sites = std::vector<api::Site>{site("web")};
  auto bindings = std::vector<api::Binding>{
      binding("a", "web", api::Protocol::kHttps, 8443, "a.example.test", "a"),
      binding("a-other-port", "web", api::Protocol::kHttps, 9443, "a.example.test", "a"),
      binding("b", "web", api::Protocol::kHttps, 8443, "b.example.test", "b")};

  auto first = compiler.compile(
      input(sites, bindings, {readyCertificate("a", a), readyCertificate("b", b)}));
  CHECK(first.contextsBuilt == 2);  // one per certificate and SSL settings, shared by both ports
  CHECK(first.bindings[0].tls == first.bindings[1].tls);

  auto second = compiler.compile(
      input(sites, bindings, {readyCertificate("a", a), readyCertificate("b", b)}));
  CHECK(second.contextsBuilt == 0);
  CHECK(second.contextsReused == 2);
  CHECK(second.bindings[2].tls == first.bindings[2].tls);

  std::string renewed = certificates.put("b", {"b.example.test"});
  auto third = compiler.compile(
      input(sites, bindings, {readyCertificate("a", a), readyCertificate("b", renewed)}));
  CHECK(third.contextsBuilt == 1);
  CHECK(third.contextsReused == 1);
  CHECK(third.bindings[2].tls->thumbprint() == renewed);
  CHECK(third.bindings[0].tls == first.bindings[0].tls);

  // Different SSL settings on the site need a different context for the same certificate.
  sites[0].spec.ssl.minTLSVersion = api::TlsVersion::k1_3;
  auto fourth = compiler.compile(
      input(sites, bindings, {readyCertificate("a", a), readyCertificate("b", renewed)}));
  CHECK(fourth.contextsBuilt == 2);
}

TEST_CASE("Compiler assigns site ids: explicit first, kept from status, then the lowest free",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto explicitTwo = site("explicit-two", 100);
  explicitTwo.spec.siteId = 2;
  auto duplicate = site("duplicate", 200);
  duplicate.spec.siteId = 2;
  auto kept = site("kept", 50);
  kept.status.siteId = 5;
  auto fresh1 = site("fresh-a", 300);
  auto fresh2 = site("fresh-b", 301);
  auto out = compiler.compile(input({explicitTwo, duplicate, kept, fresh1, fresh2}, {}));
  REQUIRE(out.sites.size() == 5);
  CHECK(out.sites[0].siteId == 2);
  CHECK_FALSE(out.sites[1].siteId);
  CHECK(out.sites[1].ready.reason == "SiteIdConflict");
  CHECK(out.sites[1].ready.message == "spec.siteId 2 is already used by Site default/explicit-two");
  CHECK(out.sites[2].siteId == 5);
  CHECK(out.sites[3].siteId == 1);
  CHECK(out.sites[4].siteId == 3);
}

TEST_CASE("Compiler sends plain http to the site's https port", "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto web = site("web");
  web.spec.ssl.requireSSL = true;
  web.spec.ssl.redirectHTTP = true;
  std::string thumbprint = certificates.put("www", {"www.example.test"});
  auto out = compiler.compile(
      input({web},
            {binding("http", "web", api::Protocol::kHttp, 8080),
             binding("https", "web", api::Protocol::kHttps, 9443, "www.example.test", "www")},
            {readyCertificate("www", thumbprint)}));
  const table::Route* route = out.table->route("127.0.0.1", 8080, "www.example.test");
  REQUIRE(route);
  CHECK(route->site->redirectHTTP);
  CHECK(route->site->httpsRedirectPort == 9443);
}

TEST_CASE("Compiler reports a site whose client CA certificate is missing on its https bindings",
          "[controller][compile]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto web = site("web");
  web.spec.ssl.clientCertificate = api::ClientCertificateMode::kRequire;
  web.spec.ssl.clientCARefs = {{"no-such-ca"}};
  std::string thumbprint = certificates.put("www", {"www.example.test"});
  auto out = compiler.compile(
      input({web},
            {binding("http", "web", api::Protocol::kHttp, 8080),
             binding("https", "web", api::Protocol::kHttps, 8443, "www.example.test", "www")},
            {readyCertificate("www", thumbprint)}));
  CHECK(out.bindings[0].inTable);
  CHECK(reasonOf(out.bindings[1], "ResolvedRefs") == "ClientCANotFound");
  CHECK(out.sites[0].ready.reason == "ClientCANotFound");
}

TEST_CASE("mergeConditions moves lastTransitionTime only when a condition flips",
          "[controller][compile]") {
  std::vector<api::Condition> conditions;
  mergeConditions(conditions, {{"Programmed", api::ConditionStatus::kFalse, "Pending", "a"}}, 1,
                  at(10));
  mergeConditions(conditions,
                  {{"Programmed", api::ConditionStatus::kFalse, "PortUnavailable", "b"}}, 2,
                  at(20));
  REQUIRE(conditions.size() == 1);
  CHECK(conditions[0].lastTransitionTime == at(10));
  CHECK(conditions[0].observedGeneration == 2);
  CHECK(conditions[0].reason == "PortUnavailable");
  mergeConditions(conditions, {{"Programmed", api::ConditionStatus::kTrue, "Programmed", "c"}}, 2,
                  at(30));
  CHECK(conditions[0].lastTransitionTime == at(30));
}

}  // namespace siteplane::compile::testing

namespace siteplane::compile::testing {

TEST_CASE("Compiler serves wildcard and non-canonical address literals where clients reach them",
          "[controller][compile][address]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  struct Case {
    std::string address;
    std::string local;  // the address a connection arrives on
  };
  for (const auto& c : std::vector<Case>{{"0.0.0.0", "127.0.0.1"},
                                         {"::", "::1"},
                                         {"0:0::0", "127.0.0.1"},
                                         {"0:0:0:0:0:0:0:1", "::1"},
                                         {"::FFFF:127.0.0.1", "127.0.0.1"},
                                         {"::ffff:7f00:1", "127.0.0.1"}}) {
    INFO(c.address);
    auto b = binding("web-http", "web", api::Protocol::kHttp, 8080);
    b.spec.address = c.address;
    auto out = compiler.compile(input({site("web")}, {b}));
    REQUIRE(out.bindings.size() == 1);
    CHECK(out.bindings[0].inTable);
    const table::Route* route = out.table->route(c.local, 8080, "www.example.test");
    REQUIRE(route);
    CHECK(route->binding == "default/web-http");
  }
}

TEST_CASE("Compiler refuses http and https on one port even on different addresses",
          "[controller][compile][address]") {
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests");
  auto plain = binding("plain", "web", api::Protocol::kHttp, 8080, "", "", 100);
  auto secure = binding("secure", "web", api::Protocol::kHttps, 8080, "", "cert", 200);
  secure.spec.address = "*";
  auto out = compiler.compile(
      input({site("web")}, {plain, secure},
            {readyCertificate("cert", certificates.put("cert", {"www.example.test"}))}));
  REQUIRE(out.bindings.size() == 2);
  CHECK(out.bindings[0].inTable);
  CHECK(reasonOf(out.bindings[1], "Conflicted") == "ProtocolConflict");
  CHECK_THAT(conditionOf(out.bindings[1], "Conflicted")->message,
             Catch::Contains("port 8080 is already http on 127.0.0.1:8080 (Binding default/plain, "
                             "older)"));
  CHECK_FALSE(out.bindings[1].inTable);
  // A request on 127.0.0.2 (the "*" listener) finds nothing rather than the http site.
  CHECK(out.table->route("127.0.0.2", 8080, "www.example.test") == nullptr);
}

}  // namespace siteplane::compile::testing

namespace siteplane::compile::testing {

TEST_CASE("Compiler refuses a Site root that is, holds or lies inside the state directory",
          "[controller][compile][state-root]") {
  siteplane::testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "state" / "api");
  std::filesystem::create_directories(dir.path() / "www");
  std::filesystem::create_symlink(dir.path() / "state", dir.path() / "alias");
  CertificateFixture certificates;
  Compiler compiler(*certificates.store, "/manifests", {dir.path() / "state"});
  struct Case {
    std::string root;
    bool refused;
  };
  for (const auto& c : std::vector<Case>{{dir.path().string(), true},
                                         {(dir.path() / "state").string(), true},
                                         {(dir.path() / "state" / "api").string(), true},
                                         {(dir.path() / "www" / ".." / "state").string(), true},
                                         {(dir.path() / "alias" / "api").string(), true},
                                         {"/", true},
                                         {(dir.path() / "www").string(), false}}) {
    INFO(c.root);
    auto s = site("web");
    s.spec.root = c.root;
    auto out =
        compiler.compile(input({s}, {binding("web-http", "web", api::Protocol::kHttp, 8080)}));
    REQUIRE(out.sites.size() == 1);
    if (c.refused) {
      CHECK(out.sites[0].ready.reason == "RootNotAllowed");
      CHECK_THAT(out.sites[0].ready.message, Catch::Contains("the state directory"));
      CHECK(reasonOf(out.bindings[0], "ResolvedRefs") == "RootNotAllowed");
      CHECK_FALSE(out.bindings[0].inTable);
      CHECK(out.table->route("127.0.0.1", 8080, "") == nullptr);
    } else {
      CHECK(out.sites[0].ready.reason == "Ready");
      CHECK(out.bindings[0].inTable);
    }
  }
}

}  // namespace siteplane::compile::testing

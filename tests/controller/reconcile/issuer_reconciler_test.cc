#include "controller/reconcile/issuer_reconciler.h"

#include <catch2/catch.hpp>

#include "tests/controller/reconcile/reconcile_fixture.h"

namespace siteplane::reconcile {
namespace {

using namespace std::chrono_literals;
using namespace testing;

json caIssuer(const std::string& certificate) {
  return {{"ca", {{"certificateRef", {{"name", certificate}}}}}};
}

json caCertificate(const std::string& duration = "8760h") {
  return {{"commonName", "Siteplane Test Root"},
          {"isCA", true},
          {"usages", {"digital signature", "cert sign", "crl sign"}},
          {"duration", duration},
          {"issuerRef", {{"name", "self"}}}};
}

TEST_CASE("A self-signed Issuer is Ready and says so once", "[controller][reconcile][issuer]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", {{"selfSigned", json::object()}}));
  CHECK(fixture.reconcileIssuer("self").action == ReconcileResult::Action::kDone);
  api::Issuer issuer = fixture.issuer("self");
  CHECK(stateOf(issuer.status.conditions, "Ready") == "True/SelfSigned");
  CHECK(condition(issuer.status.conditions, "Ready").observedGeneration == 1);

  uint64_t version = fixture.store->resourceVersion();
  fixture.advance(1h);
  (void)fixture.reconcileIssuer("self");
  CHECK(fixture.store->resourceVersion() == version);
}

TEST_CASE("A CA Issuer reports why its CA Certificate cannot sign",
          "[controller][reconcile][issuer]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", {{"selfSigned", json::object()}}));
  fixture.create(issuerObject("ca", caIssuer("root-ca")));
  fixture.settle();
  api::Issuer issuer = fixture.issuer("ca");
  CHECK(stateOf(issuer.status.conditions, "Ready") == "False/CertificateNotFound");
  CHECK(condition(issuer.status.conditions, "Ready").message ==
        "CA Certificate default/root-ca not found");

  SECTION("a Certificate that is not a CA is NotCA") {
    fixture.create(certificateObject(
        "root-ca", {{"dnsNames", {"www.example.test"}}, {"issuerRef", {{"name", "self"}}}}));
    fixture.settle();
    api::Issuer notCA = fixture.issuer("ca");
    CHECK(stateOf(notCA.status.conditions, "Ready") == "False/NotCA");
    CHECK(condition(notCA.status.conditions, "Ready").message ==
          "Certificate default/root-ca is not a CA (spec.isCA is false)");
  }

  SECTION("a CA Certificate that is not Ready is CertificateNotReady") {
    fixture.create(certificateObject(
        "root-ca", {{"commonName", "Root"}, {"isCA", true}, {"issuerRef", {{"name", "nobody"}}}}));
    fixture.settle();
    api::Issuer notReady = fixture.issuer("ca");
    CHECK(stateOf(notReady.status.conditions, "Ready") == "False/CertificateNotReady");
    CHECK(condition(notReady.status.conditions, "Ready").message ==
          "CA Certificate default/root-ca is not Ready (IssuerNotFound: Issuer default/nobody not "
          "found)");
  }

  SECTION("a CA Certificate that is Ready makes it Ready, until the CA expires") {
    fixture.create(certificateObject("root-ca", caCertificate("48h")));
    fixture.settle();
    api::Issuer ready = fixture.issuer("ca");
    CHECK(stateOf(ready.status.conditions, "Ready") == "True/KeyPairVerified");
    auto since = condition(ready.status.conditions, "Ready").lastTransitionTime;

    // The Issuer looks again when the CA expires: a timer, not a poll.
    auto result = fixture.reconcileIssuer("ca");
    REQUIRE(result.action == ReconcileResult::Action::kRequeueAfter);
    CHECK(result.after >= std::chrono::duration_cast<Clock::Duration>(48h));
    CHECK(result.after <= std::chrono::duration_cast<Clock::Duration>(48h + 2s));

    // Past the CA's notAfter, before the CA Certificate itself has been renewed.
    fixture.advance(49h);
    (void)fixture.reconcileIssuer("ca");
    api::Issuer expired = fixture.issuer("ca");
    CHECK(stateOf(expired.status.conditions, "Ready") == "False/Expired");
    CHECK(condition(expired.status.conditions, "Ready").lastTransitionTime > since);

    // Renewing the CA makes the Issuer Ready again.
    fixture.settle();
    CHECK(stateOf(fixture.issuer("ca").status.conditions, "Ready") == "True/KeyPairVerified");
  }
}

TEST_CASE("An ACME Issuer is Ready only once its account is registered",
          "[controller][reconcile][issuer]") {
  ReconcileFixture fixture;
  // Nothing listens there: the registration fails, and the condition says with what.
  const std::string server =
      "https://127.0.0.1:" + std::to_string(siteplane::testing::freePort()) + "/directory";
  fixture.create(issuerObject(
      "letsencrypt",
      {{"acme", {{"server", server}, {"email", "ops@example.test"}, {"http01", json::object()}}}}));
  // Without an ACME client nothing can order from it.
  (void)fixture.reconcileIssuer("letsencrypt");
  CHECK(stateOf(fixture.issuer("letsencrypt").status.conditions, "Ready") ==
        "False/ACMERegistrationFailed");

  siteplane::testing::TempDir accounts;
  IssuerReconciler withClient(
      *fixture.store, *fixture.certificates,
      IssuerReconcilerOptions{
          .clock = &fixture.clock,
          .acmeAccounts = std::make_shared<acme::AccountRegistry>(accounts.path()),
          .mayWrite = nullptr});
  ReconcileResult result = withClient.reconcile("Issuer/default/letsencrypt");
  // Tried again after 10 s, not at the work queue's milliseconds.
  CHECK(result.action == ReconcileResult::Action::kRequeueAfter);
  CHECK(result.after == std::chrono::seconds(10));
  api::Issuer issuer = fixture.issuer("letsencrypt");
  CHECK(stateOf(issuer.status.conditions, "Ready") == "False/ACMERegistrationFailed");
  CHECK(condition(issuer.status.conditions, "Ready").message.find(server) != std::string::npos);
  CHECK_FALSE(issuer.status.acme.has_value());
}

TEST_CASE("A CA Certificate change queues the Issuers that sign with it",
          "[controller][reconcile][issuer]") {
  ReconcileFixture fixture;
  std::vector<QueuedKey> keys;
  store::Subscription subscription = fixture.store->subscribe(
      [&](const store::WatchEvent& event) { fixture.issuerReconciler->keysFor(event, keys); });
  fixture.create(issuerObject("self", {{"selfSigned", json::object()}}));
  fixture.create(issuerObject("ca", caIssuer("root-ca")));
  fixture.create(issuerObject("ca-too", caIssuer("root-ca")));
  keys.clear();
  fixture.create(certificateObject("root-ca", caCertificate()));
  std::vector<std::string> queued;
  for (const auto& key : keys) queued.push_back(key.key);
  CHECK(queued == std::vector<std::string>{issuerKey("ca"), issuerKey("ca-too")});

  keys.clear();
  fixture.create(certificateObject("unrelated", caCertificate()));
  CHECK(keys.empty());

  // Deleting the CA queues them too; an Issuer's own status write does not queue it.
  keys.clear();
  fixture.remove("Certificate", "root-ca");
  CHECK(keys.size() == 2);
  keys.clear();
  (void)fixture.reconcileIssuer("ca");
  CHECK(keys.empty());
  subscription.cancel();
}

}  // namespace
}  // namespace siteplane::reconcile

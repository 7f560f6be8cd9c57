#include "controller/reconcile/certificate_reconciler.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <mutex>

#include "controller/certs/certificate_import.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/issuance.h"
#include "controller/reconcile/work_queue.h"
#include "tests/controller/reconcile/reconcile_fixture.h"

namespace siteplane::reconcile {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using siteplane::testing::makeCertificate;
using siteplane::testing::run;

json selfSigned() { return {{"selfSigned", json::object()}}; }

json leafSpec(std::vector<std::string> dnsNames, const std::string& issuer = "self") {
  return {{"dnsNames", std::move(dnsNames)}, {"issuerRef", {{"name", issuer}}}};
}

// A root CA Certificate from a self-signed Issuer, and a ca Issuer signing with it. The CA lists
// its usages: the default ones include "server auth", and an extendedKeyUsage on a CA restricts
// every certificate below it to that purpose (OpenSSL then refuses its client certificates).
void createCA(ReconcileFixture& fixture) {
  fixture.create(issuerObject("self", selfSigned()));
  fixture.create(
      certificateObject("root-ca", {{"commonName", "Siteplane Test Root"},
                                    {"isCA", true},
                                    {"usages", {"digital signature", "cert sign", "crl sign"}},
                                    {"duration", "8760h"},
                                    {"issuerRef", {{"name", "self"}}}}));
  fixture.create(issuerObject("ca", {{"ca", {{"certificateRef", {{"name", "root-ca"}}}}}}));
}

TEST_CASE(
    "A Certificate from a self-signed Issuer is issued and its status describes the stored leaf",
    "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", selfSigned()));
  fixture.create(certificateObject("www", {{"dnsNames", {"www.example.test", "example.test"}},
                                           {"duration", "24h"},
                                           {"issuerRef", {{"name", "self"}}}}));
  fixture.settle();

  api::Certificate certificate = fixture.certificate("www");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "True/Issued");
  CHECK(stateOf(certificate.status.conditions, "Issuing") == "False/UpToDate");
  CHECK(condition(certificate.status.conditions, "Ready").observedGeneration == 1);
  certs::CertificateBundle bundle = fixture.bundle("www");
  const certs::CertificateInfo& info = bundle.leaf().info();
  CHECK(certificate.status.thumbprint == bundle.leaf().thumbprint());
  CHECK(certificate.status.thumbprint.size() == 40);
  CHECK(certificate.status.sha256Fingerprint == info.sha256Fingerprint);
  CHECK(certificate.status.serialNumber == info.serialNumber);
  CHECK(certificate.status.subject == info.subject);
  CHECK(certificate.status.issuer == info.issuer);
  CHECK(certificate.status.dnsNames ==
        std::vector<std::string>{"www.example.test", "example.test"});
  CHECK(certificate.status.revision == 1);
  REQUIRE(certificate.status.notBefore);
  REQUIRE(certificate.status.notAfter);
  REQUIRE(certificate.status.renewalTime);
  CHECK(*certificate.status.notAfter - *certificate.status.notBefore == 24h);
  // renewBefore defaults to a third of the duration.
  CHECK(*certificate.status.notAfter - *certificate.status.renewalTime == 8h);
  CHECK(info.selfSigned);
  CHECK(bundle.key.algorithm() == certs::KeyAlgorithm::kEcdsa);
  CHECK(bundle.key.bits() == 256);
  CHECK(info.extendedKeyUsages == std::vector<std::string>{"server auth"});

  // The key is 0600 in the state directory and appears nowhere in the stored object.
  struct stat keyStat {};
  REQUIRE(::stat(fixture.certificates->keyPath("default/www").c_str(), &keyStat) == 0);
  CHECK((keyStat.st_mode & 0777) == 0600);
  auto stored = fixture.store->get({"Certificate", "default", "www"});
  CHECK((*stored)->dump().find("PRIVATE KEY") == std::string::npos);

  // Reconciling again changes nothing: no write, no re-issue.
  uint64_t version = fixture.store->resourceVersion();
  auto result = fixture.reconcileCertificate("www");
  CHECK(result.action == ReconcileResult::Action::kRequeueAfter);
  CHECK(fixture.store->resourceVersion() == version);
  CHECK(fixture.bundle("www").leaf().thumbprint() == certificate.status.thumbprint);
}

TEST_CASE("A Certificate asks to be requeued at its renewal time",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", selfSigned()));
  fixture.create(certificateObject("www", {{"dnsNames", {"www.example.test"}},
                                           {"duration", "2h"},
                                           {"renewBefore", "30m"},
                                           {"issuerRef", {{"name", "self"}}}}));
  (void)fixture.reconcileIssuer("self");
  auto result = fixture.reconcileCertificate("www");
  REQUIRE(result.action == ReconcileResult::Action::kRequeueAfter);
  CHECK(result.after == std::chrono::duration_cast<Clock::Duration>(90min));
}

TEST_CASE("A CA Issuer signs leaves that OpenSSL verifies against the CA certificate",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  createCA(fixture);
  fixture.create(certificateObject("www", {{"dnsNames", {"www.example.test"}},
                                           {"ipAddresses", {"127.0.0.1"}},
                                           {"issuerRef", {{"name", "ca"}}}}));
  fixture.create(
      certificateObject("client", {{"commonName", "alice"},
                                   {"usages", {"digital signature", "client auth"}},
                                   {"privateKey", {{"algorithm", "RSA"}, {"size", 2048}}},
                                   {"issuerRef", {{"name", "ca"}}}}));
  fixture.settle();

  CHECK(stateOf(fixture.issuer("ca").status.conditions, "Ready") == "True/KeyPairVerified");
  api::Certificate ca = fixture.certificate("root-ca");
  CHECK(stateOf(ca.status.conditions, "Ready") == "True/Issued");
  certs::CertificateBundle caBundle = fixture.bundle("root-ca");
  CHECK(caBundle.leaf().info().isCA);
  CHECK(caBundle.leaf().info().keyUsages ==
        std::vector<std::string>{"digital signature", "cert sign", "crl sign"});
  CHECK(caBundle.leaf().info().extendedKeyUsages.empty());

  api::Certificate leaf = fixture.certificate("www");
  CHECK(stateOf(leaf.status.conditions, "Ready") == "True/Issued");
  certs::CertificateBundle leafBundle = fixture.bundle("www");
  REQUIRE(leafBundle.chain.size() == 2);
  CHECK(leafBundle.chain[1] == caBundle.leaf());
  CHECK(leafBundle.leaf().isSignedBy(caBundle.leaf()));
  CHECK_FALSE(leafBundle.leaf().info().isCA);
  CHECK(leafBundle.leaf().info().ipAddresses == std::vector<std::string>{"127.0.0.1"});
  CHECK(leaf.status.issuer == caBundle.leaf().info().subject);

  siteplane::testing::TempDir files;
  auto caFile = files.write("ca.pem", caBundle.leaf().toPem());
  auto leafFile = files.write("leaf.pem", leafBundle.leaf().toPem());
  auto verified = run({"openssl", "verify", "-CAfile", caFile.string(), "-purpose", "sslserver",
                       leafFile.string()});
  INFO(verified.out << verified.err);
  CHECK(verified.exitCode == 0);

  certs::CertificateBundle client = fixture.bundle("client");
  CHECK(client.key.algorithm() == certs::KeyAlgorithm::kRsa);
  CHECK(client.key.bits() == 2048);
  CHECK(client.leaf().info().extendedKeyUsages == std::vector<std::string>{"client auth"});
  auto clientFile = files.write("client.pem", client.leaf().toPem());
  auto clientVerified = run({"openssl", "verify", "-CAfile", caFile.string(), "-purpose",
                             "sslclient", clientFile.string()});
  INFO(clientVerified.out << clientVerified.err);
  CHECK(clientVerified.exitCode == 0);
}

TEST_CASE("A re-issue after a spec change keeps the key unless rotationPolicy is Always",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", selfSigned()));
  fixture.create(certificateObject("www", leafSpec({"www.example.test"})));
  fixture.settle();
  certs::CertificateBundle first = fixture.bundle("www");

  fixture.updateSpec("Certificate", "www", leafSpec({"www.example.test", "api.example.test"}));
  fixture.settle();
  api::Certificate second = fixture.certificate("www");
  certs::CertificateBundle secondBundle = fixture.bundle("www");
  CHECK(second.status.thumbprint != first.leaf().thumbprint());
  CHECK(second.status.dnsNames == std::vector<std::string>{"www.example.test", "api.example.test"});
  CHECK(second.status.revision == 2);
  CHECK(condition(second.status.conditions, "Ready").observedGeneration == 2);
  CHECK(secondBundle.key.publicKeyPem() == first.key.publicKeyPem());

  json rotating = leafSpec({"www.example.test"});
  rotating["privateKey"] = {{"rotationPolicy", "Always"}};
  fixture.updateSpec("Certificate", "www", rotating);
  fixture.settle();
  certs::CertificateBundle third = fixture.bundle("www");
  CHECK(third.leaf().thumbprint() != secondBundle.leaf().thumbprint());
  CHECK(third.key.publicKeyPem() != secondBundle.key.publicKeyPem());
  CHECK(fixture.certificate("www").status.revision == 3);

  // A new algorithm is a new key whatever the policy.
  json ed25519 = leafSpec({"www.example.test"});
  ed25519["privateKey"] = {{"algorithm", "Ed25519"}};
  fixture.updateSpec("Certificate", "www", ed25519);
  fixture.settle();
  CHECK(fixture.bundle("www").key.algorithm() == certs::KeyAlgorithm::kEd25519);
  CHECK(stateOf(fixture.certificate("www").status.conditions, "Ready") == "True/Issued");
}

TEST_CASE("A Certificate is renewed at its renewal time with a new thumbprint and the same key",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", selfSigned()));
  json spec = leafSpec({"www.example.test"});
  spec["duration"] = "2h";
  spec["renewBefore"] = "1h";
  fixture.create(certificateObject("www", spec));
  fixture.settle();
  api::Certificate first = fixture.certificate("www");
  REQUIRE(first.status.renewalTime);
  CHECK(*first.status.renewalTime == *first.status.notBefore + 1h);

  // Just before the renewal time nothing happens.
  fixture.advance(59min);
  fixture.settle();
  CHECK(fixture.certificate("www").status.thumbprint == first.status.thumbprint);

  fixture.advance(1min);
  fixture.settle();
  api::Certificate renewed = fixture.certificate("www");
  CHECK(renewed.status.thumbprint != first.status.thumbprint);
  CHECK(renewed.status.revision == 2);
  CHECK(*renewed.status.notBefore == *first.status.notBefore + 1h);
  CHECK(stateOf(renewed.status.conditions, "Ready") == "True/Issued");
  // Ready stayed True across the renewal: its lastTransitionTime did not move.
  CHECK(condition(renewed.status.conditions, "Ready").lastTransitionTime ==
        condition(first.status.conditions, "Ready").lastTransitionTime);
  CHECK(fixture.bundle("www").leaf().thumbprint() == renewed.status.thumbprint);
}

TEST_CASE("Renewal runs from the work queue's timer when the clock reaches the renewal time",
          "[controller][reconcile][certificate]") {
  // One fake monotonic clock drives both the queue's timers and the reconcilers' wall clock.
  ReconcileFixture fixture;
  FakeClock& steady = fixture.clock;
  WorkQueue queue(steady);
  store::Subscription subscription = fixture.store->subscribe([&](const store::WatchEvent& event) {
    std::vector<QueuedKey> keys;
    fixture.certificateReconciler->keysFor(event, keys);
    fixture.issuerReconciler->keysFor(event, keys);
    for (const auto& key : keys) queue.addAfter(key.key, key.delay);
  });
  // Processes every key that is ready now, as a manager worker does.
  auto drain = [&] {
    int processed = 0;
    while (auto key = queue.tryGet()) {
      ++processed;
      ReconcileResult result = key->rfind("Issuer/", 0) == 0
                                   ? fixture.issuerReconciler->reconcile(*key)
                                   : fixture.certificateReconciler->reconcile(*key);
      if (result.action == ReconcileResult::Action::kRetry) {
        queue.addRateLimited(*key);
      } else {
        queue.forget(*key);
        if (result.action == ReconcileResult::Action::kRequeueAfter)
          queue.addAfter(*key, result.after);
      }
      queue.done(*key);
    }
    return processed;
  };

  fixture.create(issuerObject("self", selfSigned()));
  json spec = leafSpec({"www.example.test"});
  spec["duration"] = "2m";
  spec["renewBefore"] = "1m50s";
  fixture.create(certificateObject("www", spec));
  drain();
  api::Certificate first = fixture.certificate("www");
  REQUIRE(stateOf(first.status.conditions, "Ready") == "True/Issued");
  CHECK(queue.delayedCount() >= 1);  // the renewal timer

  steady.advance(9s);
  drain();
  CHECK(fixture.certificate("www").status.thumbprint == first.status.thumbprint);

  steady.advance(1s);
  CHECK(drain() >= 1);
  api::Certificate renewed = fixture.certificate("www");
  CHECK(renewed.status.thumbprint != first.status.thumbprint);
  CHECK(renewed.status.revision == 2);

  // And again ten seconds later: the timer was set anew by the renewal.
  steady.advance(10s);
  drain();
  CHECK(fixture.certificate("www").status.revision == 3);
  subscription.cancel();
  queue.shutDown();
}

TEST_CASE("A restart with the same state directory does not re-issue",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  createCA(fixture);
  fixture.create(certificateObject("www", leafSpec({"www.example.test"}, "ca")));
  fixture.settle();
  std::string leaf = fixture.certificate("www").status.thumbprint;
  std::string ca = fixture.certificate("root-ca").status.thumbprint;

  fixture.restart();
  uint64_t version = fixture.store->resourceVersion();
  fixture.settle();
  CHECK(fixture.store->resourceVersion() == version);
  CHECK(fixture.certificate("www").status.thumbprint == leaf);
  CHECK(fixture.certificate("root-ca").status.thumbprint == ca);
  CHECK(fixture.bundle("www").leaf().thumbprint() == leaf);
}

TEST_CASE(
    "A crash between storing a certificate and writing its status is finished without re-issue",
    "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", selfSigned()));
  fixture.create(certificateObject("www", leafSpec({"www.example.test"})));
  fixture.settle();
  // Material newer than status, as a kill -9 after the certificate store's put leaves it.
  certs::CertificateBundle current = fixture.bundle("www");
  certs::CertificateTemplate request;
  request.dnsNames = {"www.example.test"};
  request.validFor(fixture.now(), 2160h);
  auto reissued = certs::issueSelfSigned(request, current.key);
  REQUIRE(reissued.isOk());
  certs::CertificateBundle replaced{{*reissued}, current.key};
  REQUIRE(fixture.certificates->put("default/www", replaced).isOk());

  fixture.restart();
  fixture.settle();
  api::Certificate certificate = fixture.certificate("www");
  CHECK(certificate.status.thumbprint == reissued->thumbprint());
  CHECK(certificate.status.revision == 2);
}

TEST_CASE("A Certificate whose Issuer does not exist is Ready=False IssuerNotFound until it does",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(certificateObject("www", leafSpec({"www.example.test"}, "missing")));
  fixture.settle();
  api::Certificate certificate = fixture.certificate("www");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "False/IssuerNotFound");
  CHECK(condition(certificate.status.conditions, "Ready").message ==
        "Issuer default/missing not found");
  CHECK(stateOf(certificate.status.conditions, "Issuing") == "True/DoesNotExist");
  CHECK(certificate.status.thumbprint.empty());
  auto stored = fixture.certificates->get("default/www");
  REQUIRE(stored.isOk());
  CHECK_FALSE(stored->has_value());

  fixture.create(issuerObject("missing", selfSigned()));
  fixture.settle();
  CHECK(stateOf(fixture.certificate("www").status.conditions, "Ready") == "True/Issued");
}

TEST_CASE("A Certificate whose CA is not ready is Ready=False IssuerNotReady with the CA's reason",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("ca", {{"ca", {{"certificateRef", {{"name", "root-ca"}}}}}}));
  fixture.create(certificateObject("www", leafSpec({"www.example.test"}, "ca")));
  fixture.settle();
  api::Certificate certificate = fixture.certificate("www");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "False/IssuerNotReady");
  CHECK(condition(certificate.status.conditions, "Ready").message ==
        "Issuer default/ca cannot sign: CertificateNotFound: CA Certificate default/root-ca not "
        "found");

  // The CA appears (from a self-signed Issuer that does not exist yet: still not ready).
  fixture.create(certificateObject(
      "root-ca", {{"commonName", "Root"}, {"isCA", true}, {"issuerRef", {{"name", "self"}}}}));
  fixture.settle();
  CHECK(stateOf(fixture.issuer("ca").status.conditions, "Ready") == "False/CertificateNotReady");
  CHECK(stateOf(fixture.certificate("www").status.conditions, "Ready") == "False/IssuerNotReady");

  fixture.create(issuerObject("self", selfSigned()));
  fixture.settle();
  CHECK(stateOf(fixture.issuer("ca").status.conditions, "Ready") == "True/KeyPairVerified");
  CHECK(stateOf(fixture.certificate("www").status.conditions, "Ready") == "True/Issued");
}

TEST_CASE("A re-issued CA re-issues the leaves it signed", "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  createCA(fixture);
  fixture.create(certificateObject("www", leafSpec({"www.example.test"}, "ca")));
  fixture.settle();
  std::string leaf = fixture.certificate("www").status.thumbprint;

  fixture.updateSpec(
      "Certificate", "root-ca",
      {{"commonName", "Siteplane Test Root 2"}, {"isCA", true}, {"issuerRef", {{"name", "self"}}}});
  fixture.settle();
  certs::CertificateBundle ca = fixture.bundle("root-ca");
  certs::CertificateBundle renewed = fixture.bundle("www");
  CHECK(renewed.leaf().thumbprint() != leaf);
  CHECK(renewed.leaf().isSignedBy(ca.leaf()));
  REQUIRE(renewed.chain.size() == 2);
  CHECK(renewed.chain[1] == ca.leaf());
}

TEST_CASE("Deleting a Certificate removes its key pair from the certificate store",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", selfSigned()));
  fixture.create(certificateObject("www", leafSpec({"www.example.test"})));
  fixture.settle();
  REQUIRE(fixture.certificates->get("default/www")->has_value());
  fixture.remove("Certificate", "www");
  CHECK(fixture.reconcileCertificate("www").action == ReconcileResult::Action::kDone);
  auto stored = fixture.certificates->get("default/www");
  REQUIRE(stored.isOk());
  CHECK_FALSE(stored->has_value());
}

TEST_CASE("PEM files are imported, checked and a replaced file is picked up",
          "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  auto first = makeCertificate(fixture.manifests.path() / "tls", "site", {"www.example.test"});
  fixture.advance(std::chrono::minutes(1));  // past the openssl CLI's notBefore (real time)
  // Relative paths resolve against the manifests directory.
  fixture.create(certificateObject(
      "imported",
      {{"source", {{"certificateFile", "tls/site.crt"}, {"privateKeyFile", "tls/site.key"}}}}));
  fixture.settle();
  api::Certificate certificate = fixture.certificate("imported");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "True/Imported");
  CHECK(certificate.status.thumbprint == first.thumbprint);
  CHECK(certificate.status.revision == 1);
  CHECK_FALSE(certificate.status.renewalTime);
  CHECK(fixture.bundle("imported").leaf().thumbprint() == first.thumbprint);

  // An unchanged file costs a stat and changes nothing.
  uint64_t version = fixture.store->resourceVersion();
  auto result = fixture.reconcileCertificate("imported");
  CHECK(result.action == ReconcileResult::Action::kRequeueAfter);
  CHECK(result.after <= std::chrono::duration_cast<Clock::Duration>(5s));
  CHECK(fixture.store->resourceVersion() == version);

  // Replaced by new files (written elsewhere and renamed in, as tools do). The reconcilers' clock
  // stands at the test's start while the openssl CLI dates the new certificate by the real one:
  // moved past it, or a slow machine sees a certificate that is not valid yet, which does not
  // replace a valid one.
  fixture.advance(std::chrono::minutes(2));
  auto second = makeCertificate(fixture.manifests.path() / "next", "site", {"www.example.test"});
  std::filesystem::rename(second.cert, first.cert);
  std::filesystem::rename(second.key, first.key);
  fixture.settle();
  certificate = fixture.certificate("imported");
  CHECK(certificate.status.thumbprint == second.thumbprint);
  CHECK(certificate.status.revision == 2);
  CHECK(fixture.bundle("imported").leaf().thumbprint() == second.thumbprint);
}

TEST_CASE(
    "A steady import still sees a spec change, a file rewritten in place and a file that returns",
    "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  auto first = makeCertificate(fixture.manifests.path() / "a", "site", {"www.example.test"});
  auto other = makeCertificate(fixture.manifests.path() / "b", "site", {"www.example.test"});
  fixture.advance(std::chrono::minutes(1));  // past the openssl CLI's notBefore (real time)
  fixture.create(certificateObject(
      "imported",
      {{"source", {{"certificateFile", "a/site.crt"}, {"privateKeyFile", "a/site.key"}}}}));
  fixture.settle();
  // Looks that find nothing to do: status, resourceVersion and the stored pair stay as they are.
  uint64_t version = fixture.store->resourceVersion();
  for (int look = 0; look < 3; ++look) {
    auto result = fixture.reconcileCertificate("imported");
    CHECK(result.action == ReconcileResult::Action::kRequeueAfter);
    CHECK(result.after <= std::chrono::duration_cast<Clock::Duration>(5s));
  }
  CHECK(fixture.store->resourceVersion() == version);
  CHECK(fixture.certificate("imported").status.thumbprint == first.thumbprint);

  // The spec names other files.
  fixture.updateSpec(
      "Certificate", "imported",
      {{"source", {{"certificateFile", "b/site.crt"}, {"privateKeyFile", "b/site.key"}}}});
  fixture.settle();
  CHECK(fixture.certificate("imported").status.thumbprint == other.thumbprint);
  (void)fixture.reconcileCertificate("imported");

  // The files rewritten in place (same inodes), as `cp new.crt site.crt` does.
  std::filesystem::copy_file(first.cert, other.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(first.key, other.key,
                             std::filesystem::copy_options::overwrite_existing);
  fixture.settle();
  CHECK(fixture.certificate("imported").status.thumbprint == first.thumbprint);
  (void)fixture.reconcileCertificate("imported");

  // A file that disappears is refused (the last good import keeps serving); the same file put
  // back is read again and taken.
  auto saved = fixture.manifests.path() / "saved.key";
  std::filesystem::rename(other.key, saved);
  fixture.settle();
  CHECK(stateOf(fixture.certificate("imported").status.conditions, "Issuing") ==
        "True/InvalidSource");
  (void)fixture.reconcileCertificate("imported");
  (void)fixture.reconcileCertificate("imported");
  std::filesystem::rename(saved, other.key);
  fixture.settle();
  api::Certificate restored = fixture.certificate("imported");
  CHECK(stateOf(restored.status.conditions, "Ready") == "True/Imported");
  CHECK(stateOf(restored.status.conditions, "Issuing") == "False/Imported");
  CHECK(restored.status.thumbprint == first.thumbprint);
}

TEST_CASE("An imported certificate that expires becomes Ready=False Expired, never True",
          "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  auto made = makeCertificate(fixture.manifests.path(), "short", {"short.example.test"}, nullptr,
                              false, "1");
  fixture.advance(std::chrono::minutes(1));  // past the openssl CLI's notBefore (real time)
  fixture.create(certificateObject("short", {{"source",
                                              {{"certificateFile", made.cert.string()},
                                               {"privateKeyFile", made.key.string()}}}}));
  fixture.settle();
  CHECK(stateOf(fixture.certificate("short").status.conditions, "Ready") == "True/Imported");
  // Valid for a day: the next look is no later than the source check interval.
  auto result = fixture.reconcileCertificate("short");
  CHECK(result.after <= std::chrono::duration_cast<Clock::Duration>(5s));

  fixture.advance(std::chrono::hours(25));
  fixture.settle();
  api::Certificate expired = fixture.certificate("short");
  CHECK(stateOf(expired.status.conditions, "Ready") == "False/Expired");
  CHECK(condition(expired.status.conditions, "Ready").message.find("expired at") !=
        std::string::npos);
  CHECK(expired.status.thumbprint == made.thumbprint);
}

TEST_CASE("An import whose key belongs to another certificate is Ready=False KeyMismatch",
          "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  auto one = makeCertificate(fixture.manifests.path(), "one", {"one.example.test"});
  auto two = makeCertificate(fixture.manifests.path(), "two", {"two.example.test"});
  fixture.create(certificateObject(
      "mixed", {{"source",
                 {{"certificateFile", one.cert.string()}, {"privateKeyFile", two.key.string()}}}}));
  fixture.settle();
  api::Certificate certificate = fixture.certificate("mixed");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "False/KeyMismatch");
  CHECK(certificate.status.thumbprint.empty());

  fixture.create(certificateObject("absent", {{"source",
                                               {{"certificateFile", "nowhere/site.crt"},
                                                {"privateKeyFile", "nowhere/site.key"}}}}));
  fixture.settle();
  api::Certificate absent = fixture.certificate("absent");
  CHECK(stateOf(absent.status.conditions, "Ready") == "False/InvalidSource");
  CHECK(condition(absent.status.conditions, "Ready").message ==
        "spec.source.certificateFile: cannot read " +
            (fixture.manifests.path() / "nowhere/site.crt").string() +
            ": No such file or directory");
}

TEST_CASE(
    "A Certificate imported from a Secret takes what the Secret holds, follows it, and is "
    "refused where there are no Secrets or it names its own",
    "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  fixture.create(certificateObject("corp", {{"source", {{"secretName", "corp-cert"}}}}));
  fixture.settle();
  api::Certificate embedded = fixture.certificate("corp");
  CHECK(stateOf(embedded.status.conditions, "Ready") == "False/InvalidSource");
  CHECK_THAT(condition(embedded.status.conditions, "Ready").message,
             Catch::Contains("Secrets are read only by serve --source kubernetes"));

  // Kubernetes mode: the leader reads the Secret through the cluster.
  auto one = makeCertificate(fixture.manifests.path(), "one", {"one.example.test"});
  auto two = makeCertificate(fixture.manifests.path(), "two", {"two.example.test"});
  fixture.advance(std::chrono::minutes(1));  // past the openssl CLI's notBefore (real time)
  std::filesystem::path served = one.cert, servedKey = one.key;
  std::vector<std::string> reads;
  fixture.readSecret = [&](const std::string& ns, const std::string& name) {
    reads.push_back(ns + "/" + name);
    return certs::importPemFiles(served, servedKey);
  };
  fixture.restart();
  fixture.settle();
  api::Certificate imported = fixture.certificate("corp");
  CHECK(stateOf(imported.status.conditions, "Ready") == "True/Imported");
  CHECK_THAT(condition(imported.status.conditions, "Ready").message,
             Catch::Contains("imported from Secret default/corp-cert"));
  REQUIRE_FALSE(reads.empty());
  CHECK(reads.front() == "default/corp-cert");
  auto first = imported.status.thumbprint;

  // The Secret is read again on every look, so a replaced one is taken.
  served = two.cert;
  servedKey = two.key;
  fixture.advance(std::chrono::seconds(31));
  fixture.settle();
  CHECK(fixture.certificate("corp").status.thumbprint != first);
  CHECK(fixture.certificate("corp").status.thumbprint ==
        fixture.bundle("corp").leaf().thumbprint());

  // A Secret that cannot be used keeps the last good one serving.
  fixture.readSecret = [](const std::string& ns, const std::string& name) {
    return Result<certs::CertificateBundle>(
        Status::error("Secret " + ns + "/" + name + " not found"));
  };
  fixture.restart();
  fixture.settle();
  api::Certificate missing = fixture.certificate("corp");
  CHECK(stateOf(missing.status.conditions, "Ready") == "True/Imported");
  CHECK(stateOf(missing.status.conditions, "Issuing") == "True/InvalidSource");

  fixture.create(certificateObject("self", {{"source", {{"secretName", "self-tls"}}}}));
  fixture.settle();
  CHECK_THAT(condition(fixture.certificate("self").status.conditions, "Ready").message,
             Catch::Contains("names the Secret siteplane writes for this Certificate"));
}

// Writes a self-signed certificate valid from `start` for `lifetime`, made with siteplane's own
// issuance (the openssl CLI of this machine cannot backdate), and its key.
void writeDated(const std::filesystem::path& certificateFile, const std::filesystem::path& keyFile,
                const std::string& dnsName, system_clock::time_point start,
                std::chrono::seconds lifetime) {
  auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa, 256);
  REQUIRE(key.isOk());
  certs::CertificateTemplate request;
  request.commonName = dnsName;
  request.dnsNames = {dnsName};
  request.validFor(start, lifetime);
  auto issued = certs::issueSelfSigned(request, *key);
  REQUIRE(issued.isOk());
  std::ofstream(certificateFile, std::ios::trunc) << issued->toPem();
  std::ofstream(keyFile, std::ios::trunc) << key->toPem();
}

TEST_CASE("Replaced files that cannot be used keep the last good import Ready and stored",
          "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  auto good = makeCertificate(fixture.manifests.path() / "tls", "site", {"www.example.test"});
  fixture.advance(std::chrono::minutes(1));  // past the openssl CLI's notBefore (real time)
  fixture.create(certificateObject(
      "imported",
      {{"source", {{"certificateFile", "tls/site.crt"}, {"privateKeyFile", "tls/site.key"}}}}));
  fixture.settle();
  REQUIRE(stateOf(fixture.certificate("imported").status.conditions, "Ready") == "True/Imported");

  auto keptGood = [&](const std::string& issuing) {
    api::Certificate certificate = fixture.certificate("imported");
    CHECK(stateOf(certificate.status.conditions, "Ready") == "True/Imported");
    CHECK(condition(certificate.status.conditions, "Ready").message.find("the last good import") !=
          std::string::npos);
    CHECK(stateOf(certificate.status.conditions, "Issuing") == issuing);
    CHECK(certificate.status.thumbprint == good.thumbprint);
    CHECK(fixture.bundle("imported").leaf().thumbprint() == good.thumbprint);
  };

  SECTION("a key of another certificate") {
    auto other = makeCertificate(fixture.manifests.path() / "other", "site", {"www.example.test"});
    std::filesystem::copy_file(other.key, good.key,
                               std::filesystem::copy_options::overwrite_existing);
    fixture.settle();
    keptGood("True/KeyMismatch");
  }
  SECTION("a half-written certificate file") {
    std::ofstream(good.cert, std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nMIIB";
    fixture.settle();
    keptGood("True/InvalidSource");
  }
  SECTION("a deleted file") {
    std::filesystem::remove(good.cert);
    fixture.settle();
    keptGood("True/InvalidSource");
  }
  SECTION("an expired certificate") {
    writeDated(good.cert, good.key, "www.example.test", fixture.now() - std::chrono::hours(48),
               std::chrono::hours(24));
    fixture.settle();
    keptGood("True/Expired");
  }
  SECTION("a certificate not valid yet") {
    writeDated(good.cert, good.key, "www.example.test", fixture.now() + std::chrono::hours(24),
               std::chrono::hours(24));
    fixture.settle();
    keptGood("True/NotYetValid");
  }

  // Usable files again: taken at once. (The reconcilers' clock stands at the test's start; the
  // openssl CLI dates the new certificate by the real one.)
  fixture.advance(std::chrono::minutes(2));
  auto next = makeCertificate(fixture.manifests.path() / "next", "site", {"www.example.test"});
  std::filesystem::copy_file(next.cert, good.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(next.key, good.key, std::filesystem::copy_options::overwrite_existing);
  fixture.settle();
  api::Certificate certificate = fixture.certificate("imported");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "True/Imported");
  CHECK(stateOf(certificate.status.conditions, "Issuing") == "False/Imported");
  CHECK(certificate.status.thumbprint == next.thumbprint);
}

TEST_CASE(
    "An imported chain in any order is stored leaf first, and a stranger in it is InvalidChain",
    "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  auto dir = fixture.manifests.path();
  auto ca = makeCertificate(dir, "ca", {}, nullptr, true);
  auto leaf = makeCertificate(dir, "leaf", {"chain.example.test"}, &ca);
  auto stranger = makeCertificate(dir, "stranger", {"stranger.example.test"});
  fixture.advance(std::chrono::minutes(1));  // past the openssl CLI's notBefore (real time)
  fixture.manifests.write("reversed.crt", siteplane::testing::readFile(ca.cert) +
                                              siteplane::testing::readFile(leaf.cert));
  fixture.manifests.write("mixed.crt", siteplane::testing::readFile(leaf.cert) +
                                           siteplane::testing::readFile(stranger.cert));
  fixture.create(certificateObject(
      "reversed",
      {{"source", {{"certificateFile", "reversed.crt"}, {"privateKeyFile", leaf.key.string()}}}}));
  fixture.create(certificateObject(
      "mixed",
      {{"source", {{"certificateFile", "mixed.crt"}, {"privateKeyFile", leaf.key.string()}}}}));
  fixture.settle();

  CHECK(stateOf(fixture.certificate("reversed").status.conditions, "Ready") == "True/Imported");
  auto stored = fixture.bundle("reversed");
  REQUIRE(stored.chain.size() == 2);
  CHECK(stored.chain[0].thumbprint() == leaf.thumbprint);
  CHECK(stored.chain[1].thumbprint() == ca.thumbprint);

  api::Certificate mixed = fixture.certificate("mixed");
  CHECK(stateOf(mixed.status.conditions, "Ready") == "False/InvalidChain");
  CHECK(condition(mixed.status.conditions, "Ready")
            .message.find("(thumbprint " + stranger.thumbprint + ") is not part of the chain of") !=
        std::string::npos);
}

TEST_CASE("An import's files are handed to the watcher and forgotten when it no longer reads them",
          "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  std::mutex mutex;
  std::map<std::string, std::vector<std::filesystem::path>> registered;
  int forgotten = 0;
  fixture.watchSourceFiles = [&](const std::string& key, std::vector<std::filesystem::path> files) {
    std::lock_guard lock(mutex);
    if (files.empty()) ++forgotten;
    registered[key] = std::move(files);
  };
  fixture.restart();
  auto made = makeCertificate(fixture.manifests.path() / "tls", "site", {"www.example.test"});
  fixture.create(issuerObject("self", selfSigned()));
  fixture.create(certificateObject(
      "imported",
      {{"source", {{"certificateFile", "tls/site.crt"}, {"privateKeyFile", "tls/site.key"}}}}));
  fixture.create(certificateObject("issued", leafSpec({"issued.example.test"})));
  fixture.settle();
  CHECK(registered[certificateKey("imported")] ==
        std::vector<std::filesystem::path>{made.cert, made.key});
  CHECK_FALSE(registered.count(certificateKey("issued")));

  // Switched to an Issuer: no file is read any more.
  fixture.updateSpec("Certificate", "imported", leafSpec({"www.example.test"}));
  fixture.settle();
  CHECK(registered[certificateKey("imported")].empty());
  CHECK(forgotten == 1);

  // Imported again, then deleted.
  fixture.updateSpec(
      "Certificate", "imported",
      {{"source", {{"certificateFile", "tls/site.crt"}, {"privateKeyFile", "tls/site.key"}}}});
  fixture.settle();
  CHECK(registered[certificateKey("imported")].size() == 2);
  fixture.remove("Certificate", "imported");
  (void)fixture.reconcileCertificate("imported");
  CHECK(registered[certificateKey("imported")].empty());
  CHECK(forgotten == 2);
}

TEST_CASE("A PKCS#12 file with a password file is imported",
          "[controller][reconcile][certificate][import]") {
  ReconcileFixture fixture;
  auto made = makeCertificate(fixture.manifests.path(), "site", {"www.example.test"});
  auto password = fixture.manifests.write("site.pass", "s3cret\n");
  auto pfx = fixture.manifests.path() / "site.pfx";
  auto exported = run({"openssl", "pkcs12", "-export", "-in", made.cert.string(), "-inkey",
                       made.key.string(), "-out", pfx.string(), "-passout", "pass:s3cret"});
  INFO(exported.err);
  REQUIRE(exported.exitCode == 0);
  fixture.create(certificateObject(
      "pfx", {{"source", {{"pkcs12File", "site.pfx"}, {"pkcs12PasswordFile", "site.pass"}}}}));
  fixture.settle();
  api::Certificate certificate = fixture.certificate("pfx");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "True/Imported");
  CHECK(certificate.status.thumbprint == made.thumbprint);

  // A wrong password is an InvalidSource that names the problem; the certificate imported
  // before stays Ready meanwhile, and fixing the file takes the Issuing condition back.
  fixture.manifests.write("site.pass", "wrong\n");
  fixture.settle();
  certificate = fixture.certificate("pfx");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "True/Imported");
  CHECK(stateOf(certificate.status.conditions, "Issuing") == "True/InvalidSource");
  CHECK(condition(certificate.status.conditions, "Issuing").message.find("wrong password") !=
        std::string::npos);
  CHECK(certificate.status.thumbprint == made.thumbprint);
  fixture.manifests.write("site.pass", "s3cret\n");
  fixture.settle();
  CHECK(stateOf(fixture.certificate("pfx").status.conditions, "Ready") == "True/Imported");
  CHECK(stateOf(fixture.certificate("pfx").status.conditions, "Issuing") == "False/Imported");

  // Without a good import before it, the same file is Ready=False.
  fixture.manifests.write("site.pass", "wrong\n");
  fixture.create(certificateObject(
      "pfx-new", {{"source", {{"pkcs12File", "site.pfx"}, {"pkcs12PasswordFile", "site.pass"}}}}));
  fixture.settle();
  CHECK(stateOf(fixture.certificate("pfx-new").status.conditions, "Ready") ==
        "False/InvalidSource");
}

TEST_CASE("Store events map to the Certificates they make stale",
          "[controller][reconcile][certificate]") {
  ReconcileFixture fixture;
  std::vector<QueuedKey> keys;
  store::Subscription subscription = fixture.store->subscribe(
      [&](const store::WatchEvent& event) { fixture.certificateReconciler->keysFor(event, keys); });
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& key : keys) out.push_back(key.key);
    keys.clear();
    return out;
  };
  createCA(fixture);
  fixture.create(certificateObject("www", leafSpec({"www.example.test"}, "ca")));
  fixture.create(certificateObject("api", leafSpec({"api.example.test"}, "ca")));
  fixture.create(certificateObject("other", leafSpec({"other.example.test"}, "self")));
  names();

  // An Issuer change queues its Certificates.
  fixture.updateSpec("Issuer", "ca", {{"ca", {{"certificateRef", {{"name", "root-ca"}}}}}});
  CHECK(names().empty());  // the update changed nothing, so there was no event
  fixture.updateSpec("Issuer", "self", {{"selfSigned", json::object()}, {"unused", 1}});
  CHECK(names() == std::vector<std::string>{certificateKey("other"), certificateKey("root-ca")});

  // A CA Certificate change queues itself and the Certificates of Issuers signing with it.
  fixture.updateSpec("Certificate", "root-ca",
                     {{"commonName", "Root 2"}, {"isCA", true}, {"issuerRef", {{"name", "self"}}}});
  CHECK(names() == std::vector<std::string>{certificateKey("root-ca"), certificateKey("api"),
                                            certificateKey("www")});

  // A status write of a leaf does not queue the leaf again.
  fixture.settle();
  names();
  fixture.settle();
  CHECK(names().empty());
  subscription.cancel();
}

TEST_CASE("An import from a path the policy refuses is PathNotAllowed and keeps nothing",
          "[controller][reconcile][certificate][import][import-policy]") {
  ReconcileFixture fixture;
  auto pem = makeCertificate(fixture.manifests.path() / "tls", "site", {"www.example.test"});
  fixture.advance(std::chrono::minutes(1));
  // Imported before any policy (as a server before the upgrade did): Ready and stored.
  fixture.create(certificateObject("imported", {{"source",
                                                 {{"certificateFile", pem.cert.string()},
                                                  {"privateKeyFile", pem.key.string()}}}}));
  fixture.settle();
  REQUIRE(stateOf(fixture.certificate("imported").status.conditions, "Ready") == "True/Imported");

  // The object came from the API (no manifest-file annotation): the manifest directory is not
  // one of its roots.
  fixture.importPolicy = std::make_shared<const certs::ImportPathPolicy>(
      certs::ImportPathPolicy::create({fixture.manifests.path(), {}, {fixture.state.path()}}));
  fixture.restart();
  fixture.settle();
  api::Certificate certificate = fixture.certificate("imported");
  CHECK(stateOf(certificate.status.conditions, "Ready") == "False/PathNotAllowed");
  CHECK_THAT(api::findCondition(certificate.status.conditions, "Ready")->message,
             Catch::StartsWith("spec.source.certificateFile: " + pem.cert.string() +
                               " is not in a directory this object may import from"));
  CHECK(certificate.status.thumbprint.empty());
  auto stored = fixture.certificates->get("default/imported");
  REQUIRE(stored.isOk());
  CHECK_FALSE(stored->has_value());
}

}  // namespace
}  // namespace siteplane::reconcile

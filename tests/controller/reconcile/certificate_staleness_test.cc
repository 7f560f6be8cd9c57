#include "controller/reconcile/certificate_staleness.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/controller/certs/certs_test_helpers.h"

namespace siteplane::reconcile {
namespace {

using namespace std::chrono_literals;
using certs::testing::caTemplate;
using certs::testing::serverTemplate;
using certs::testing::valueOf;
using std::chrono::system_clock;

// Fixed times, so that the messages can be spelled out.
const system_clock::time_point kStart = std::chrono::sys_days{std::chrono::June / 1 / 2030};

// What the policies are given in one row: every field starts as a Certificate whose stored
// self-signed material matches its spec, four hours into its life; a row changes what it tests.
struct Case {
  std::optional<certs::CertificateBundle> current;
  std::string unreadable;
  api::CertificateSpec spec;
  certs::CertificateTemplate request;
  Signer signer;
  std::string issuerRef = "default/self";
  system_clock::time_point now = kStart + 4h;

  StalenessInput input() const {
    return {.current = current ? &*current : nullptr,
            .unreadable = unreadable,
            .spec = spec,
            .request = request,
            .signer = signer,
            .issuerRef = issuerRef,
            .now = now};
  }
};

// The material the rows use, made once: a self-signed leaf valid for 24h from kStart; two root CAs
// valid for a year and a leaf the first signed for the same names and key; and a leaf signed by a
// root that expires 12h after kStart, whose notAfter was shortened to the root's.
struct Material {
  certs::PrivateKey key = valueOf(certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa));
  certs::CertificateTemplate request = serverTemplate({"www.example.test"}, kStart, 24h);
  certs::CertificateBundle selfSigned{{valueOf(certs::issueSelfSigned(request, key))}, key};
  certs::CertificateBundle root = makeRoot(caTemplate("Siteplane Test Root", kStart));
  certs::CertificateBundle otherRoot = makeRoot(caTemplate("Siteplane Other Root", kStart));
  certs::CertificateBundle signedByRoot = signedBy(root);
  // Valid from 12h before kStart to 12h after it.
  certs::CertificateBundle shortRoot =
      makeRoot(caTemplate("Siteplane Short Root", kStart - 12h, 24h));
  certs::CertificateBundle shortenedByRoot = signedBy(shortRoot);

  static certs::CertificateBundle makeRoot(const certs::CertificateTemplate& ca) {
    auto rootKey = valueOf(certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa));
    return {{valueOf(certs::issueSelfSigned(ca, rootKey))}, rootKey};
  }
  certs::CertificateBundle signedBy(const certs::CertificateBundle& ca) const {
    auto leaf = valueOf(certs::issueSignedBy(request, key.publicKey(), ca.leaf(), ca.key, kStart));
    return {{leaf, ca.leaf()}, key};
  }
};

const Material& material() {
  static const Material made;
  return made;
}

Case freshCase() {
  Case fresh;
  fresh.current = material().selfSigned;
  fresh.spec.dnsNames = {"www.example.test"};
  fresh.spec.duration = 24h;
  fresh.spec.renewBefore = 8h;
  fresh.spec.issuerRef = api::IssuerReference{"self"};
  fresh.request = serverTemplate({"www.example.test"}, kStart, 24h);
  fresh.signer.ready = true;
  fresh.signer.selfSigned = true;
  return fresh;
}

Signer caSigner(const certs::CertificateBundle& ca) {
  Signer signer;
  signer.ready = true;
  signer.ca = ca;
  return signer;
}

struct Expected {
  std::string reason;
  std::string message;
};

struct Row {
  std::string name;
  std::function<void(Case&)> change;
  std::optional<Expected> expected;  // nullopt: the policy finds the material fine
};

std::optional<Expected> evaluate(StalenessPolicy policy, const Case& c) {
  auto stale = policy(c.input());
  if (!stale) return std::nullopt;
  return Expected{stale->reason, stale->message};
}

void checkRows(StalenessPolicy policy, const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Case c = freshCase();
    row.change(c);
    auto got = evaluate(policy, c);
    REQUIRE(got.has_value() == row.expected.has_value());
    if (!got) continue;
    CHECK(got->reason == row.expected->reason);
    CHECK(got->message == row.expected->message);
  }
}

void unchanged(Case&) {}

TEST_CASE("materialMissing finds nothing stored or an unreadable key pair",
          "[controller][reconcile][certificate][staleness]") {
  checkRows(materialMissing,
            {
                {"stored", unchanged, std::nullopt},
                {"nothing stored", [](Case& c) { c.current.reset(); },
                 Expected{"DoesNotExist", "no certificate has been issued yet"}},
                {"unreadable",
                 [](Case& c) {
                   c.current.reset();
                   c.unreadable = "tls.key does not match the leaf certificate in tls.crt";
                 },
                 Expected{"InvalidMaterial",
                          "the stored key pair cannot be used: tls.key does not match the leaf "
                          "certificate in tls.crt"}},
            });
}

TEST_CASE("privateKeyMismatch compares the stored key with spec.privateKey",
          "[controller][reconcile][certificate][staleness]") {
  checkRows(
      privateKeyMismatch,
      {
          {"ECDSA 256 as asked", unchanged, std::nullopt},
          {"size 0 means the default", [](Case& c) { c.spec.privateKey.size = 0; }, std::nullopt},
          {"RSA asked",
           [](Case& c) {
             c.spec.privateKey = {api::KeyAlgorithm::kRSA, 2048, api::RotationPolicy::kNever};
           },
           Expected{"SpecChanged",
                    "the private key is ECDSA 256, spec.privateKey asks for RSA 2048"}},
          {"another curve", [](Case& c) { c.spec.privateKey.size = 384; },
           Expected{"SpecChanged",
                    "the private key is ECDSA 256, spec.privateKey asks for ECDSA 384"}},
          {"Ed25519 asked, no size in the message",
           [](Case& c) {
             c.spec.privateKey = {api::KeyAlgorithm::kEd25519, 0, api::RotationPolicy::kNever};
           },
           Expected{"SpecChanged",
                    "the private key is ECDSA 256, spec.privateKey asks for Ed25519"}},
          {"nothing stored",
           [](Case& c) {
             c.current.reset();
             c.spec.privateKey.size = 384;
           },
           std::nullopt},
      });
}

TEST_CASE("requestMismatch compares what the certificate says with what the spec asks for",
          "[controller][reconcile][certificate][staleness]") {
  checkRows(requestMismatch,
            {
                {"same names", unchanged, std::nullopt},
                {"names differ only in case",
                 [](Case& c) { c.request.dnsNames = {"WWW.Example.Test"}; }, std::nullopt},
                {"a name added", [](Case& c) { c.request.dnsNames.push_back("example.test"); },
                 Expected{"SpecChanged",
                          "dnsNames: certificate has [www.example.test], spec wants "
                          "[example.test, www.example.test]"}},
                {"two differences, joined",
                 [](Case& c) {
                   c.request.dnsNames = {"api.example.test"};
                   c.request.ipAddresses = {"192.0.2.1"};
                 },
                 Expected{"SpecChanged",
                          "dnsNames: certificate has [www.example.test], spec wants "
                          "[api.example.test]; ipAddresses: certificate has [], spec wants "
                          "[192.0.2.1]"}},
                {"nothing stored",
                 [](Case& c) {
                   c.current.reset();
                   c.request.dnsNames = {"api.example.test"};
                 },
                 std::nullopt},
            });
}

TEST_CASE("durationMismatch compares the lifetime with spec.duration unless the CA shortened it",
          "[controller][reconcile][certificate][staleness]") {
  checkRows(
      durationMismatch,
      {
          {"24h as asked", unchanged, std::nullopt},
          {"longer asked",
           [](Case& c) {
             c.current = material().signedByRoot;
             c.signer = caSigner(material().root);
             c.spec.duration = 48h;
           },
           Expected{"SpecChanged", "the certificate is valid for 24h, spec.duration is 48h"}},
          {"longer asked of a self-signed Issuer: no CA shortens it",
           [](Case& c) { c.spec.duration = 48h; },
           Expected{"SpecChanged", "the certificate is valid for 24h, spec.duration is 48h"}},
          {"shorter asked", [](Case& c) { c.spec.duration = 90min; },
           Expected{"SpecChanged", "the certificate is valid for 24h, spec.duration is 1h30m"}},
          {"shortened to the CA's notAfter",
           [](Case& c) {
             c.current = material().shortenedByRoot;
             c.signer = caSigner(material().shortRoot);
           },
           std::nullopt},
          {"shorter, with the CA unknown: possibly the CA's doing",
           [](Case& c) {
             c.current = material().shortenedByRoot;
             c.signer = Signer{};
           },
           std::nullopt},
          {"shorter, and not the current CA's notAfter",
           [](Case& c) {
             c.current = material().shortenedByRoot;
             c.signer = caSigner(material().root);
           },
           Expected{"SpecChanged", "the certificate is valid for 12h, spec.duration is 24h"}},
          {"nothing stored",
           [](Case& c) {
             c.current.reset();
             c.spec.duration = 48h;
           },
           std::nullopt},
      });
}

TEST_CASE("issuerMismatch compares a ready signer with what signed the stored chain",
          "[controller][reconcile][certificate][staleness]") {
  const Material& m = material();
  checkRows(
      issuerMismatch,
      {
          {"self-signed, as the Issuer", unchanged, std::nullopt},
          {"signed by the Issuer's CA",
           [&](Case& c) {
             c.current = m.signedByRoot;
             c.signer = caSigner(m.root);
           },
           std::nullopt},
          {"CA-signed, the Issuer is self-signed", [&](Case& c) { c.current = m.signedByRoot; },
           Expected{"IssuerChanged", "the certificate is signed by \"" +
                                         m.signedByRoot.leaf().info().issuer +
                                         "\", Issuer default/self is self-signed"}},
          {"self-signed, the Issuer is a CA",
           [&](Case& c) {
             c.signer = caSigner(m.root);
             c.issuerRef = "default/ca";
           },
           Expected{"IssuerChanged",
                    "the certificate is not signed by the current CA certificate " +
                        m.root.leaf().thumbprint() + " of Issuer default/ca"}},
          {"signed by another CA",
           [&](Case& c) {
             c.current = m.signedByRoot;
             c.signer = caSigner(m.otherRoot);
             c.issuerRef = "default/ca";
           },
           Expected{"IssuerChanged",
                    "the certificate is not signed by the current CA certificate " +
                        m.otherRoot.leaf().thumbprint() + " of Issuer default/ca"}},
          {"the signer is not ready: not compared",
           [&](Case& c) {
             c.current = m.signedByRoot;
             c.signer = Signer{};
           },
           std::nullopt},
          {"nothing stored", [](Case& c) { c.current.reset(); }, std::nullopt},
      });
}

TEST_CASE("expired, notYetValid and renewalDue look at the validity window and the renewal time",
          "[controller][reconcile][certificate][staleness]") {
  // Valid from 2030-06-01T00:00:00Z to 2030-06-02T00:00:00Z, renewal 8h before the end.
  auto at = [](system_clock::duration sinceStart) {
    return [sinceStart](Case& c) { c.now = kStart + sinceStart; };
  };
  checkRows(expired, {
                         {"valid", unchanged, std::nullopt},
                         {"at notAfter", at(24h), std::nullopt},
                         {"after notAfter", at(24h + 1s),
                          Expected{"Expired", "the certificate expired at 2030-06-02T00:00:00Z"}},
                         {"before notBefore", at(-1s), std::nullopt},
                     });
  checkRows(
      notYetValid,
      {
          {"valid", unchanged, std::nullopt},
          {"at notBefore", at(0s), std::nullopt},
          {"before notBefore", at(-1s),
           Expected{"NotYetValid", "the certificate is not valid before 2030-06-01T00:00:00Z"}},
          {"expired", at(25h), std::nullopt},
      });
  checkRows(renewalDue, {
                            {"before the renewal time", at(16h - 1s), std::nullopt},
                            {"at the renewal time", at(16h),
                             Expected{"Renewing", "renewal time 2030-06-01T16:00:00Z reached"}},
                            {"renewBefore longer than the lifetime: a third of it",
                             [](Case& c) {
                               c.spec.renewBefore = 48h;
                               c.now = kStart + 16h;
                             },
                             Expected{"Renewing", "renewal time 2030-06-01T16:00:00Z reached"}},
                            {"renewBefore longer than the lifetime, before two thirds",
                             [](Case& c) {
                               c.spec.renewBefore = 48h;
                               c.now = kStart + 15h;
                             },
                             std::nullopt},
                        });
  for (StalenessPolicy policy : {expired, notYetValid, renewalDue}) {
    Case c = freshCase();
    c.current.reset();
    c.now = kStart + 48h;
    CHECK_FALSE(policy(c.input()).has_value());
  }
}

TEST_CASE("The staleness chain answers with its first policy that finds the material stale",
          "[controller][reconcile][certificate][staleness]") {
  const Material& m = material();
  std::vector<Row> rows = {
      {"fresh material", unchanged, std::nullopt},
      {"nothing stored, whatever the spec says",
       [](Case& c) {
         c.current.reset();
         c.spec.privateKey.size = 384;
         c.now = kStart + 48h;
       },
       Expected{"DoesNotExist", "no certificate has been issued yet"}},
      {"the key before the names",
       [](Case& c) {
         c.spec.privateKey.size = 384;
         c.request.dnsNames = {"api.example.test"};
       },
       Expected{"SpecChanged", "the private key is ECDSA 256, spec.privateKey asks for ECDSA 384"}},
      {"the names before the duration",
       [](Case& c) {
         c.request.dnsNames = {"api.example.test"};
         c.spec.duration = 48h;
       },
       Expected{"SpecChanged",
                "dnsNames: certificate has [www.example.test], spec wants [api.example.test]"}},
      {"the spec before the issuer",
       [&](Case& c) {
         c.request.dnsNames = {"api.example.test"};
         c.current = m.signedByRoot;
       },
       Expected{"SpecChanged",
                "dnsNames: certificate has [www.example.test], spec wants [api.example.test]"}},
      {"the duration before the issuer",
       [&](Case& c) {
         c.spec.duration = 48h;
         c.current = m.selfSigned;
         c.signer = caSigner(m.root);
       },
       Expected{"SpecChanged", "the certificate is valid for 24h, spec.duration is 48h"}},
      {"the issuer before time",
       [&](Case& c) {
         c.current = m.signedByRoot;
         c.now = kStart + 25h;
       },
       Expected{"IssuerChanged", "the certificate is signed by \"" +
                                     m.signedByRoot.leaf().info().issuer +
                                     "\", Issuer default/self is self-signed"}},
      {"expired rather than renewing", [](Case& c) { c.now = kStart + 25h; },
       Expected{"Expired", "the certificate expired at 2030-06-02T00:00:00Z"}},
      {"not yet valid", [](Case& c) { c.now = kStart - 1s; },
       Expected{"NotYetValid", "the certificate is not valid before 2030-06-01T00:00:00Z"}},
      {"renewal with a signer that cannot sign: the chain is not compared",
       [&](Case& c) {
         c.current = m.signedByRoot;
         c.signer = Signer{};
         c.now = kStart + 20h;
       },
       Expected{"Renewing", "renewal time 2030-06-01T16:00:00Z reached"}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    Case c = freshCase();
    row.change(c);
    auto stale = firstStaleness(c.input());
    REQUIRE(stale.has_value() == row.expected.has_value());
    if (!stale) continue;
    CHECK(stale->reason == row.expected->reason);
    CHECK(stale->message == row.expected->message);
  }

  // The chain decides: one without the validity policies calls an expired certificate due.
  Case c = freshCase();
  c.now = kStart + 25h;
  const StalenessPolicy renewalOnly[] = {materialMissing, renewalDue};
  auto stale = firstStaleness(c.input(), renewalOnly);
  REQUIRE(stale.has_value());
  CHECK(std::string(stale->reason) == "Renewing");
  CHECK(firstStaleness(c.input(), {}) == std::nullopt);
}

}  // namespace
}  // namespace siteplane::reconcile

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/controller/reconcile/reconcile_fixture.h"

namespace siteplane::reconcile {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using siteplane::testing::makeCertificate;

std::vector<json> eventsOf(ReconcileFixture& fixture, const std::string& name) {
  std::vector<json> found;
  for (const auto& item : fixture.store->list({"Event", std::nullopt, {}}).items)
    if ((*item)["involvedObject"]["kind"] == "Certificate" &&
        (*item)["involvedObject"]["name"] == name)
      found.push_back(*item);
  return found;
}

std::vector<json> withReason(const std::vector<json>& events, const std::string& reason) {
  std::vector<json> found;
  for (const auto& event : events)
    if (event["reason"] == reason) found.push_back(event);
  return found;
}

TEST_CASE("An issued Certificate records one Issued event and a resync records none",
          "[controller][reconcile][certificate][events]") {
  ReconcileFixture fixture;
  fixture.create(issuerObject("self", {{"selfSigned", json::object()}}));
  fixture.create(certificateObject("www", {{"dnsNames", {"www.example.test"}},
                                           {"duration", "24h"},
                                           {"issuerRef", {{"name", "self"}}}}));
  fixture.settle();

  api::Certificate certificate = fixture.certificate("www");
  auto events = eventsOf(fixture, "www");
  REQUIRE(events.size() == 1);
  const json& issued = events[0];
  CHECK(issued["type"] == "Normal");
  CHECK(issued["reason"] == "Issued");
  CHECK(issued["count"] == 1);
  CHECK(issued["involvedObject"]["uid"] == certificate.metadata.uid);
  CHECK(issued["message"] == "certificate " + certificate.status.thumbprint +
                                 " issued by Issuer self, valid until " +
                                 api::formatTime(*certificate.status.notAfter));

  // Nothing changed: no status write, so no event (and the one there is not counted again).
  (void)fixture.reconcileCertificate("www");
  fixture.settle();
  events = eventsOf(fixture, "www");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["count"] == 1);

  // The renewal time comes: one Renewed event naming the old and the new certificate.
  const std::string before = certificate.status.thumbprint;
  fixture.advance(23h);
  fixture.settle();
  certificate = fixture.certificate("www");
  REQUIRE(certificate.status.thumbprint != before);
  events = eventsOf(fixture, "www");
  CHECK(events.size() == 2);
  auto renewed = withReason(events, "Renewed");
  REQUIRE(renewed.size() == 1);
  CHECK(renewed[0]["type"] == "Normal");
  CHECK(renewed[0]["message"].get<std::string>().find(before) != std::string::npos);
  CHECK(renewed[0]["message"].get<std::string>().find(certificate.status.thumbprint) !=
        std::string::npos);
  CHECK(withReason(events, "Issued").size() == 1);
}

TEST_CASE("An import records ImportFailed once per failure, Imported once, and a repeat aggregates",
          "[controller][reconcile][certificate][events]") {
  ReconcileFixture fixture;
  const std::filesystem::path dir = fixture.manifests.path() / "tls";
  fixture.create(certificateObject(
      "site",
      {{"source", {{"certificateFile", "tls/site.crt"}, {"privateKeyFile", "tls/site.key"}}}}));
  fixture.settle();
  const std::string failure = "InvalidSource: spec.source.certificateFile: cannot read " +
                              (dir / "site.crt").string() + ": No such file or directory";
  auto events = eventsOf(fixture, "site");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["type"] == "Warning");
  CHECK(events[0]["reason"] == "ImportFailed");
  CHECK(events[0]["message"] == failure);

  // Retrying with the same failure records nothing more.
  (void)fixture.reconcileCertificate("site");
  (void)fixture.reconcileCertificate("site");
  events = eventsOf(fixture, "site");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["count"] == 1);

  // The files appear: one Imported event.
  std::filesystem::create_directories(dir);
  auto made = makeCertificate(dir, "site", {"site.example.test"});
  fixture.settle();
  (void)fixture.reconcileCertificate("site");
  events = eventsOf(fixture, "site");
  auto imported = withReason(events, "Imported");
  REQUIRE(imported.size() == 1);
  CHECK(imported[0]["type"] == "Normal");
  CHECK(imported[0]["message"].get<std::string>().rfind(
            "certificate " + made.thumbprint + " imported, valid until ", 0) == 0);

  // The files go again (the last good import keeps serving): the same failure aggregates.
  std::filesystem::remove(dir / "site.crt");
  fixture.settle();
  (void)fixture.reconcileCertificate("site");
  events = eventsOf(fixture, "site");
  CHECK(events.size() == 2);
  auto failed = withReason(events, "ImportFailed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["message"] == failure);
  CHECK(failed[0]["count"] == 2);
}

}  // namespace
}  // namespace siteplane::reconcile

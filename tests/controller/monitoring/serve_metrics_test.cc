#include "controller/monitoring/serve_metrics.h"

#include <catch2/catch.hpp>
#include <set>
#include <sstream>

#include "dataplane/tls/handshake_failure.h"
#include "tests/support/test_support.h"

namespace siteplane::monitoring {
namespace {

using Catch::Contains;
using metrics::ExpositionWriter;

nlohmann::json certificate(const std::string& name, const std::string& notAfter) {
  nlohmann::json object = {{"apiVersion", "siteplane.io/v1alpha1"},
                           {"kind", "Certificate"},
                           {"metadata", {{"namespace", "default"}, {"name", name}}},
                           {"spec", {{"issuerRef", {{"name", "self"}}}}}};
  if (!notAfter.empty()) object["status"] = {{"notAfter", notAfter}};
  return object;
}

store::ObjectList listOf(const std::vector<nlohmann::json>& objects) {
  store::ObjectList list;
  for (const auto& object : objects)
    list.items.push_back(std::make_shared<const nlohmann::json>(object));
  return list;
}

api::Time at(const std::string& text) {
  auto parsed = api::parseTime(text);
  REQUIRE(parsed);
  return *parsed;
}

}  // namespace

TEST_CASE("Data-plane figures become request, handshake and connection families",
          "[controller][monitoring]") {
  loop::Stats stats;
  stats.activeConnections = 2;
  stats.acceptedConnections = 9;
  stats.refusedConnections = 4;
  stats.handshakes = 7;
  stats.resumedHandshakes = 3;
  stats.handshakeFailures = {{"http_request", 2}, {"protocol_version", 1}};
  stats.requestsBySite["default/web"] = {0, 5, 0, 1, 0};
  stats.requestsBySite[""] = {0, 0, 0, 4, 0};
  ExpositionWriter out;
  REQUIRE(writeDataPlane(stats, out));
  std::string text = out.text();

  CHECK_THAT(text,
             Contains("# TYPE siteplane_http_requests_total counter\n"
                      "siteplane_http_requests_total{site=\"\",code_class=\"4xx\"} 4\n"
                      "siteplane_http_requests_total{site=\"default/web\",code_class=\"2xx\"} 5\n"
                      "siteplane_http_requests_total{site=\"default/web\",code_class=\"4xx\"} 1\n"
                      "# HELP"));
  CHECK_THAT(text, Contains("siteplane_tls_handshakes_total 7\n"));
  CHECK_THAT(text, Contains("siteplane_tls_resumed_handshakes_total 3\n"));
  CHECK_THAT(text, Contains("siteplane_tls_handshake_failures_total{reason=\"http_request\"} 2\n"));
  CHECK_THAT(text,
             Contains("siteplane_tls_handshake_failures_total{reason=\"protocol_version\"} 1\n"));
  // Every reason is there from the start, at zero.
  for (std::string_view reason : tls::kHandshakeFailureLabels) {
    CHECK_THAT(text, Contains("siteplane_tls_handshake_failures_total{reason=\"" +
                              std::string(reason) + "\"} "));
  }
  CHECK_THAT(text, Contains("siteplane_tls_handshake_failures_total{reason=\"timeout\"} 0\n"));
  CHECK_THAT(
      text,
      Contains("# TYPE siteplane_connections_active gauge\nsiteplane_connections_active 2\n"));
  CHECK_THAT(text, Contains("siteplane_connections_accepted_total 9\n"));
  CHECK_THAT(text, Contains("# TYPE siteplane_connections_refused_total counter\n"
                            "siteplane_connections_refused_total 4\n"));
}

TEST_CASE("The live table's generation, bindings and listeners are gauges, 0 before a table",
          "[controller][monitoring]") {
  ExpositionWriter none;
  REQUIRE(writeTable(nullptr, none));
  CHECK_THAT(none.text(), Contains("siteplane_table_generation 0\n"));
  CHECK_THAT(none.text(), Contains("siteplane_table_bindings 0\n"));

  auto policy = std::make_shared<table::SitePolicy>();
  policy->name = "default/web";
  std::shared_ptr<const table::SitePolicy> site = policy;
  table::BindingTable::Builder builder(12);
  for (const auto& [name, port, host] :
       {std::tuple{"a", 8080, "a.test"}, std::tuple{"b", 8080, "b.test"},
        std::tuple{"c", 8081, ""}}) {
    table::BindingTable::Entry entry;
    entry.listener = {"127.0.0.1", static_cast<uint16_t>(port)};
    entry.route.binding = std::string("default/") + name;
    entry.route.hostName = host;
    entry.route.site = site;
    REQUIRE(builder.add(std::move(entry)));
  }
  auto table = std::move(builder).build();
  ExpositionWriter out;
  REQUIRE(writeTable(table.get(), out));
  CHECK_THAT(out.text(),
             Contains("# TYPE siteplane_table_generation gauge\nsiteplane_table_generation 12\n"));
  CHECK_THAT(out.text(), Contains("siteplane_table_bindings 3\n"));
  CHECK_THAT(out.text(), Contains("siteplane_table_listeners 2\n"));
}

TEST_CASE("Reconcile figures become a duration histogram and result counters by kind",
          "[controller][monitoring]") {
  reconcile::ReconcileMetrics recorded;
  recorded.addKind("Certificate");
  recorded.addKind("BindingTable");
  recorded.record("Certificate", std::chrono::milliseconds(3),
                  reconcile::ReconcileResult::Action::kDone);
  recorded.record("Certificate", std::chrono::seconds(2),
                  reconcile::ReconcileResult::Action::kRequeueAfter);
  recorded.record("Certificate", std::chrono::milliseconds(1),
                  reconcile::ReconcileResult::Action::kRetry);
  ExpositionWriter out;
  REQUIRE(writeController(recorded.snapshot(), 5, out));
  std::string text = out.text();

  CHECK_THAT(text, Contains("# TYPE siteplane_reconcile_duration_seconds histogram\n"));
  CHECK_THAT(
      text,
      Contains(
          "siteplane_reconcile_duration_seconds_bucket{kind=\"Certificate\",le=\"0.001\"} 1\n"));
  CHECK_THAT(
      text,
      Contains(
          "siteplane_reconcile_duration_seconds_bucket{kind=\"Certificate\",le=\"0.005\"} 2\n"));
  CHECK_THAT(
      text,
      Contains("siteplane_reconcile_duration_seconds_bucket{kind=\"Certificate\",le=\"1\"} 2\n"));
  CHECK_THAT(
      text,
      Contains(
          "siteplane_reconcile_duration_seconds_bucket{kind=\"Certificate\",le=\"+Inf\"} 3\n"));
  CHECK_THAT(text,
             Contains("siteplane_reconcile_duration_seconds_count{kind=\"Certificate\"} 3\n"));
  CHECK_THAT(text,
             Contains("siteplane_reconcile_duration_seconds_sum{kind=\"Certificate\"} 2.004\n"));
  CHECK_THAT(text,
             Contains("siteplane_reconcile_duration_seconds_count{kind=\"BindingTable\"} 0\n"));
  CHECK_THAT(text,
             Contains("siteplane_reconcile_total{kind=\"Certificate\",result=\"success\"} 1\n"));
  CHECK_THAT(
      text,
      Contains("siteplane_reconcile_total{kind=\"Certificate\",result=\"requeue_after\"} 1\n"));
  CHECK_THAT(text,
             Contains("siteplane_reconcile_total{kind=\"Certificate\",result=\"error\"} 1\n"));
  CHECK_THAT(text, Contains("siteplane_reconcile_errors_total{kind=\"BindingTable\"} 0\n"));
  CHECK_THAT(text, Contains("siteplane_reconcile_errors_total{kind=\"Certificate\"} 1\n"));
  CHECK_THAT(text,
             Contains("# TYPE siteplane_workqueue_depth gauge\nsiteplane_workqueue_depth 5\n"));
}

TEST_CASE("Certificate expiry is seconds until status.notAfter, negative once expired",
          "[controller][monitoring]") {
  auto list = listOf({certificate("fresh", "2026-12-25T00:00:00Z"),
                      certificate("old", "2026-11-24T00:00:00Z"), certificate("pending", "")});
  ExpositionWriter out;
  REQUIRE(writeCertificates(list, at("2026-11-25T00:00:00Z"), out));
  std::string text = out.text();
  CHECK_THAT(
      text,
      Contains(
          "siteplane_certificate_expiry_seconds{namespace=\"default\",name=\"fresh\"} 2592000\n"));
  CHECK_THAT(
      text,
      Contains(
          "siteplane_certificate_expiry_seconds{namespace=\"default\",name=\"old\"} -86400\n"));
  CHECK_THAT(text, Contains("siteplane_certificate_not_after_timestamp_seconds{namespace="
                            "\"default\",name=\"fresh\"} 1798156800\n"));
  CHECK_THAT(text, !Contains("pending"));  // not issued yet: nothing expires
}

TEST_CASE("An issued Certificate's renewalTime is exposed as a timestamp, an imported one has none",
          "[controller][monitoring]") {
  auto issued = certificate("issued", "2026-12-25T00:00:00Z");
  issued["status"]["renewalTime"] = "2026-12-15T00:00:00Z";
  auto list = listOf({issued, certificate("imported", "2026-12-25T00:00:00Z")});
  ExpositionWriter out;
  REQUIRE(writeCertificates(list, at("2026-11-25T00:00:00Z"), out));
  std::string text = out.text();
  CHECK_THAT(text, Contains("siteplane_certificate_renewal_timestamp_seconds{namespace="
                            "\"default\",name=\"issued\"} 1797292800\n"));
  CHECK_THAT(text, !Contains("renewal_timestamp_seconds{namespace=\"default\",name=\"imported\"}"));
}

TEST_CASE("A Certificate with an unreadable notAfter is named, and the others are still written",
          "[controller][monitoring]") {
  auto list =
      listOf({certificate("broken", "next tuesday"), certificate("fine", "2026-11-26T00:00:00Z")});
  ExpositionWriter out;
  Status written = writeCertificates(list, at("2026-11-25T00:00:00Z"), out);
  REQUIRE_FALSE(written.isOk());
  CHECK_THAT(written.message(), Catch::StartsWith("Certificate default/broken status.notAfter: "));
  CHECK_THAT(
      out.text(),
      Contains(
          "siteplane_certificate_expiry_seconds{namespace=\"default\",name=\"fine\"} 86400\n"));
}

TEST_CASE("Certificate readiness and Binding programming are 0/1 gauges from their conditions",
          "[controller][monitoring]") {
  auto withCondition = [](nlohmann::json object, const std::string& type,
                          const std::string& status) {
    object["status"]["conditions"] = {{{"type", type}, {"status", status}, {"reason", "Any"}}};
    return object;
  };
  nlohmann::json binding = {{"kind", "Binding"},
                            {"metadata", {{"namespace", "shop"}, {"name", "web-https"}}}};
  auto certificates =
      listOf({withCondition(certificate("good", ""), "Ready", "True"),
              withCondition(certificate("bad", ""), "Ready", "False"), certificate("new", "")});
  auto bindings = listOf({withCondition(binding, "Programmed", "True")});
  ExpositionWriter out;
  REQUIRE(writeConditions(certificates, bindings, out));
  std::string text = out.text();
  CHECK_THAT(text,
             Contains("siteplane_certificate_ready{namespace=\"default\",name=\"good\"} 1\n"));
  CHECK_THAT(text, Contains("siteplane_certificate_ready{namespace=\"default\",name=\"bad\"} 0\n"));
  CHECK_THAT(text, Contains("siteplane_certificate_ready{namespace=\"default\",name=\"new\"} 0\n"));
  CHECK_THAT(text,
             Contains("siteplane_binding_programmed{namespace=\"shop\",name=\"web-https\"} 1\n"));
}

TEST_CASE("ServeMetrics writes every family once, from a data plane, a controller and a store",
          "[controller][monitoring]") {
  testing::TempDir state;
  auto store = store::Store::create(state.path());
  REQUIRE(store);
  auto plane = loop::DataPlane::create({});
  REQUIRE(plane);
  reconcile::ControllerManager manager(**store);
  FakeClock clock(FakeClock::TimePoint(std::chrono::hours(1)), at("2026-11-25T00:00:00Z"));
  ServeMetrics serveMetrics(**plane, manager, **store, clock);

  ExpositionWriter out;
  REQUIRE(serveMetrics.write(out));
  std::string text = out.text();
  std::set<std::string> families;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::string name = line.substr(7, line.find(' ', 7) - 7);
    CHECK(families.insert(name).second);  // one TYPE line per family
  }
  for (const char* name :
       {"siteplane_http_requests_total", "siteplane_tls_handshakes_total",
        "siteplane_tls_handshake_failures_total", "siteplane_connections_active",
        "siteplane_connections_accepted_total", "siteplane_reconcile_duration_seconds",
        "siteplane_reconcile_errors_total", "siteplane_table_generation",
        "siteplane_table_bindings", "siteplane_table_listeners", "siteplane_workqueue_depth",
        "siteplane_certificate_expiry_seconds", "siteplane_certificate_ready",
        "siteplane_binding_programmed", "process_resident_memory_bytes", "process_open_fds"}) {
    CHECK(families.count(name) == 1);
  }
  CHECK_THAT(text, Contains("siteplane_table_generation 0\n"));  // not started: no table
}

}  // namespace siteplane::monitoring

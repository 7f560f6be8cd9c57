#include "controller/monitoring/serve_metrics.h"

#include <chrono>

#include "controller/api/binding.h"
#include "controller/api/certificate.h"
#include "controller/monitoring/first_error.h"
#include "controller/monitoring/process_metrics.h"
#include "dataplane/tls/handshake_failure.h"

namespace siteplane::monitoring {
namespace {

using metrics::ExpositionWriter;
using metrics::MetricType;

constexpr const char* kCodeClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// 1 when condition `type` of the stored object is "True", else 0 (absent counts as not yet).
uint64_t conditionTrue(const nlohmann::json& object, const std::string& type) {
  auto status = object.find("status");
  if (status == object.end() || !status->is_object()) return 0;
  auto conditions = status->find("conditions");
  if (conditions == status->end() || !conditions->is_array()) return 0;
  for (const auto& condition : *conditions) {
    if (!condition.is_object()) continue;
    // Status is written through the API too; a member of the wrong type must not throw here.
    auto found = condition.find("type");
    if (found == condition.end() || *found != type) continue;
    auto value = condition.find("status");
    return value != condition.end() && *value == "True" ? 1 : 0;
  }
  return 0;
}

void writeCondition(const store::ObjectList& objects, const std::string& family,
                    const std::string& type, FirstError& check, ExpositionWriter& out) {
  for (const auto& object : objects.items) {
    metrics::Labels labels = {
        {"namespace", object->value("/metadata/namespace"_json_pointer, std::string())},
        {"name", object->value("/metadata/name"_json_pointer, std::string())}};
    check(out.add(family, labels, conditionTrue(*object, type)));
  }
}

}  // namespace

Status writeDataPlane(const loop::Stats& stats, ExpositionWriter& out) {
  FirstError check;
  check(out.declare(
      "siteplane_http_requests_total", MetricType::kCounter,
      "HTTP requests the data plane answered, by site (namespace/name of the site the Host "
      "header selects, a 421 included; empty when no site took the request: "
      "malformed, missing or unknown Host, header too large, request timeout) and "
      "status class."));
  for (const auto& [site, classes] : stats.requestsBySite) {
    for (size_t i = 0; i < classes.size(); ++i) {
      if (classes[i] == 0) continue;  // a class a site never answered is no series
      check(out.add("siteplane_http_requests_total",
                    {{"site", site}, {"code_class", kCodeClasses[i]}}, classes[i]));
    }
  }
  check(out.declare("siteplane_tls_handshakes_total", MetricType::kCounter,
                    "TLS handshakes completed, resumed ones included."));
  check(out.add("siteplane_tls_handshakes_total", {}, stats.handshakes));
  check(out.declare("siteplane_tls_resumed_handshakes_total", MetricType::kCounter,
                    "TLS handshakes completed by resuming a session (ticket)."));
  check(out.add("siteplane_tls_resumed_handshakes_total", {}, stats.resumedHandshakes));
  check(out.declare("siteplane_tls_handshake_failures_total", MetricType::kCounter,
                    "TLS handshakes that failed, by reason."));
  // Every reason is a series from the start, so a rate() over a first failure sees it.
  for (std::string_view reason : tls::kHandshakeFailureLabels) {
    auto found = stats.handshakeFailures.find(std::string(reason));
    uint64_t count = found == stats.handshakeFailures.end() ? 0 : found->second;
    check(out.add("siteplane_tls_handshake_failures_total", {{"reason", std::string(reason)}},
                  count));
  }
  check(out.declare("siteplane_connections_active", MetricType::kGauge,
                    "Client connections open now, on every listener."));
  check(out.add("siteplane_connections_active", {}, stats.activeConnections));
  check(out.declare("siteplane_connections_accepted_total", MetricType::kCounter,
                    "Client connections accepted."));
  check(out.add("siteplane_connections_accepted_total", {}, stats.acceptedConnections));
  check(out.declare("siteplane_connections_refused_total", MetricType::kCounter,
                    "Client connections reset at accept: their address held "
                    "--max-connections-per-address connections."));
  check(out.add("siteplane_connections_refused_total", {}, stats.refusedConnections));
  return check.take();
}

Status writeTable(const table::BindingTable* table, ExpositionWriter& out) {
  FirstError check;
  check(out.declare("siteplane_table_generation", MetricType::kGauge,
                    "Generation of the binding table the data plane serves (0: none yet)."));
  check(out.add("siteplane_table_generation", {}, table ? table->generation() : uint64_t{0}));
  check(out.declare("siteplane_table_bindings", MetricType::kGauge,
                    "Bindings in the binding table the data plane serves."));
  check(out.add("siteplane_table_bindings", {},
                static_cast<uint64_t>(table ? table->bindingCount() : 0)));
  check(out.declare("siteplane_table_listeners", MetricType::kGauge,
                    "Listeners (address and port) in the binding table the data plane serves."));
  check(out.add("siteplane_table_listeners", {},
                static_cast<uint64_t>(table ? table->listeners().size() : 0)));
  return check.take();
}

Status writeController(
    const std::map<std::string, reconcile::ReconcileMetrics::KindSnapshot, std::less<>>& kinds,
    size_t queueDepth, ExpositionWriter& out) {
  FirstError check;
  check(out.declare("siteplane_reconcile_duration_seconds", MetricType::kHistogram,
                    "How long reconciles took, by kind (Certificate, Issuer, BindingTable: the "
                    "compile pass)."));
  check(out.declare("siteplane_reconcile_total", MetricType::kCounter,
                    "Reconciles by kind and result: success, requeue_after (converged, looks "
                    "again later), error (retried with backoff)."));
  check(out.declare("siteplane_reconcile_errors_total", MetricType::kCounter,
                    "Reconciles that failed and are retried with backoff, by kind."));
  for (const auto& [kind, figures] : kinds) {
    check(out.addHistogram("siteplane_reconcile_duration_seconds", {{"kind", kind}},
                           figures.duration));
    check(out.add("siteplane_reconcile_total", {{"kind", kind}, {"result", "success"}},
                  figures.succeeded));
    check(out.add("siteplane_reconcile_total", {{"kind", kind}, {"result", "requeue_after"}},
                  figures.requeued));
    check(out.add("siteplane_reconcile_total", {{"kind", kind}, {"result", "error"}},
                  figures.failed));
    check(out.add("siteplane_reconcile_errors_total", {{"kind", kind}}, figures.failed));
  }
  check(out.declare("siteplane_workqueue_depth", MetricType::kGauge,
                    "Keys ready to reconcile and waiting for a worker."));
  check(out.add("siteplane_workqueue_depth", {}, static_cast<uint64_t>(queueDepth)));
  return check.take();
}

namespace {

// A time field of a Certificate's status; nullopt when absent (not issued yet, or an imported
// certificate that is never renewed), an error when unreadable.
Result<std::optional<api::Time>> statusTime(const nlohmann::json& object, const char* field) {
  const std::string text =
      object.value(nlohmann::json::json_pointer(std::string("/status/") + field), std::string());
  if (text.empty()) return std::optional<api::Time>();
  auto parsed = api::parseTime(text);
  if (!parsed) {
    return Status::error("Certificate " +
                         object.value("/metadata/namespace"_json_pointer, std::string()) + "/" +
                         object.value("/metadata/name"_json_pointer, std::string()) + " status." +
                         field + ": " + parsed.message());
  }
  return std::optional<api::Time>(*parsed);
}

}  // namespace

Status writeCertificates(const store::ObjectList& certificates, api::Time now,
                         ExpositionWriter& out) {
  FirstError check;
  check(out.declare("siteplane_certificate_expiry_seconds", MetricType::kGauge,
                    "Seconds until the certificate's notAfter (negative once expired), by "
                    "Certificate."));
  check(out.declare("siteplane_certificate_not_after_timestamp_seconds", MetricType::kGauge,
                    "The certificate's notAfter as a Unix timestamp, by Certificate."));
  check(out.declare("siteplane_certificate_renewal_timestamp_seconds", MetricType::kGauge,
                    "When the issuer is due to renew the certificate (status.renewalTime) as a "
                    "Unix timestamp, by Certificate; absent for imported ones."));
  for (const auto& object : certificates.items) {
    metrics::Labels labels = {
        {"namespace", object->value("/metadata/namespace"_json_pointer, std::string())},
        {"name", object->value("/metadata/name"_json_pointer, std::string())}};
    // A Certificate not issued or imported yet has no notAfter: nothing expires.
    auto notAfter = statusTime(*object, "notAfter");
    if (!notAfter) check(notAfter.status());
    if (notAfter && *notAfter) {
      check(out.add("siteplane_certificate_expiry_seconds", labels,
                    static_cast<double>((**notAfter - now).count())));
      check(out.add("siteplane_certificate_not_after_timestamp_seconds", labels,
                    static_cast<double>((*notAfter)->time_since_epoch().count())));
    }
    auto renewal = statusTime(*object, "renewalTime");
    if (!renewal) check(renewal.status());
    if (renewal && *renewal) {
      check(out.add("siteplane_certificate_renewal_timestamp_seconds", labels,
                    static_cast<double>((*renewal)->time_since_epoch().count())));
    }
  }
  return check.take();
}

Status writeConditions(const store::ObjectList& certificates, const store::ObjectList& bindings,
                       ExpositionWriter& out) {
  FirstError check;
  check(out.declare("siteplane_certificate_ready", MetricType::kGauge,
                    "1 when the Certificate's Ready condition is True, else 0 (its reason says "
                    "why: siteplane describe certificate)."));
  writeCondition(certificates, "siteplane_certificate_ready", "Ready", check, out);
  check(out.declare("siteplane_binding_programmed", MetricType::kGauge,
                    "1 when the Binding's Programmed condition is True (the data plane serves it), "
                    "else 0."));
  writeCondition(bindings, "siteplane_binding_programmed", "Programmed", check, out);
  return check.take();
}

ServeMetrics::ServeMetrics(const loop::DataPlane& dataPlane,
                           const reconcile::ControllerManager& controller,
                           const store::Store& store, const Clock& clock)
    : dataPlane_(dataPlane), controller_(controller), store_(store), clock_(clock) {}

Status ServeMetrics::write(ExpositionWriter& out) const {
  FirstError check;
  check(writeDataPlane(dataPlane_.stats(), out));
  check(writeTable(dataPlane_.currentTable().get(), out));
  check(writeController(controller_.metrics().snapshot(), controller_.queue().length(), out));
  // From the stored statuses rather than the live table's TLS contexts: the store has every
  // Certificate — CA certificates and ones no binding uses yet expire too — under the name
  // operators know, and the compile pass serves exactly the certificate that status describes
  // (Binding status.servedThumbprint is the Certificate's status.thumbprint).
  store::ObjectList certificates = store_.list({api::Certificate::kKind, std::nullopt, {}});
  check(writeCertificates(certificates, api::now(clock_), out));
  check(writeConditions(certificates, store_.list({api::Binding::kKind, std::nullopt, {}}), out));
  check(writeProcess(out));
  return check.take();
}

}  // namespace siteplane::monitoring

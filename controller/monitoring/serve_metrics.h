#pragma once

// The Prometheus families `siteplane serve` adds to the API server's /metrics: what the data plane
// serves (requests by site and status class, handshakes and their failures by reason,
// connections), what the controller does (reconcile duration and outcome by kind, queue depth),
// the live table (generation, bindings, listeners), when each certificate expires, and which
// Certificates are Ready and which Bindings are programmed. The names, types and labels are a
// contract operators build dashboards and alerts on; the README's "See what it is doing" lists
// them.
//
//   ServeMetrics metrics(*dataPlane, manager, *store);
//   apiOptions.metrics = [&metrics](metrics::ExpositionWriter& out) { return metrics.write(out); };
//
// write() also adds the standard process_* families (process_metrics.h).
//
// The write*() functions each add one group from figures already gathered, so that tests check the
// exposition without a running server.

#include <functional>
#include <map>
#include <string>

#include "common/metrics/exposition_writer.h"
#include "common/status.h"
#include "controller/api/time.h"
#include "controller/reconcile/controller_manager.h"
#include "controller/reconcile/reconcile_metrics.h"
#include "controller/store/store.h"
#include "dataplane/loop/data_plane.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::monitoring {

// siteplane_http_requests_total{site,code_class}, siteplane_tls_handshakes_total,
// siteplane_tls_resumed_handshakes_total, siteplane_tls_handshake_failures_total{reason} (every
// reason of tls::kHandshakeFailureLabels, 0 included), siteplane_connections_active,
// siteplane_connections_accepted_total.
Status writeDataPlane(const loop::Stats& stats, metrics::ExpositionWriter& out);

// siteplane_table_generation, siteplane_table_bindings, siteplane_table_listeners; all 0 while no
// table is live (`table` null).
Status writeTable(const table::BindingTable* table, metrics::ExpositionWriter& out);

// siteplane_reconcile_duration_seconds{kind} (histogram), siteplane_reconcile_total{kind,result},
// siteplane_reconcile_errors_total{kind}, siteplane_workqueue_depth.
Status writeController(
    const std::map<std::string, reconcile::ReconcileMetrics::KindSnapshot, std::less<>>& kinds,
    size_t queueDepth, metrics::ExpositionWriter& out);

// siteplane_certificate_expiry_seconds{namespace,name} (negative once expired) and
// siteplane_certificate_not_after_timestamp_seconds{namespace,name}, for every stored Certificate
// whose status carries a notAfter. `certificates` are stored Certificate objects.
Status writeCertificates(const store::ObjectList& certificates, api::Time now,
                         metrics::ExpositionWriter& out);

// siteplane_certificate_ready{namespace,name} and siteplane_binding_programmed{namespace,name}:
// 1 when the object's condition (Ready, Programmed) is True, else 0 — a Certificate that cannot be
// issued or a Binding that cannot be served converges without a reconcile error, so the condition
// is what an alert must watch. Objects are stored Certificates and Bindings.
Status writeConditions(const store::ObjectList& certificates, const store::ObjectList& bindings,
                       metrics::ExpositionWriter& out);

class ServeMetrics {
 public:
  // Everything passed must outlive the object. `clock`'s wall time is the "now" of expiry.
  ServeMetrics(const loop::DataPlane& dataPlane, const reconcile::ControllerManager& controller,
               const store::Store& store, const Clock& clock = Clock::real());

  // Gathers the current figures and adds every family above. Any thread.
  Status write(metrics::ExpositionWriter& out) const;

 private:
  const loop::DataPlane& dataPlane_;
  const reconcile::ControllerManager& controller_;
  const store::Store& store_;
  const Clock& clock_;
};

}  // namespace siteplane::monitoring

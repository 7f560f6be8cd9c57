#pragma once

// The process_* families every Prometheus client library exports (client_golang's process
// collector), so the usual dashboards and alerts work on siteplane unchanged:
//   process_cpu_seconds_total       user + system CPU time
//   process_resident_memory_bytes   resident set size
//   process_virtual_memory_bytes    virtual memory size
//   process_start_time_seconds      start time, Unix seconds
//   process_open_fds                open file descriptors
//   process_max_fds                 the open-files limit (RLIMIT_NOFILE, soft)
// Read from /proc/self on each scrape (Linux).

#include "common/metrics/exposition_writer.h"
#include "common/status.h"

namespace siteplane::monitoring {

// Adds the families above. A /proc file that cannot be read or parsed is an error naming it; the
// figures that could be read are still added.
Status writeProcess(metrics::ExpositionWriter& out);

}  // namespace siteplane::monitoring

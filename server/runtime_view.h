#pragma once

#include "controller/apiserver/api_server.h"
#include "dataplane/loop/data_plane.h"

namespace siteplane::server {

// /runtime/sslcert and /runtime/explain answer from the table the workers serve now, never from
// the spec, with the listeners the data plane could not open. The API server is stopped before
// the data plane goes, so the pointer outlives every call.
apiserver::RuntimeView runtimeView(const loop::DataPlane* dataPlane);

}  // namespace siteplane::server

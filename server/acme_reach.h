#pragma once

// What an ACME order asks of this server before it involves the CA (see
// reconcile::AcmeServices): who claims a name, and whether a challenge for it can be answered.

#include <string>
#include <vector>

#include "controller/store/store.h"
#include "dataplane/loop/data_plane.h"

namespace siteplane::server {

// "namespace/name" of a Binding outside `ns` whose hostName covers one of `names` (equal, or a
// wildcard over it or under it; programmed or not, either protocol), "" when none: a
// Certificate may only be ordered for its own namespace's hosts. One pass over the Bindings.
std::string bindingClaimingElsewhere(const store::Store& store,
                                     const std::vector<std::string>& names, const std::string& ns);

// Whether the data plane has an open listener the CA can be sent to for `name`: an http listener
// with a route for it (http-01), or any https listener (tls-alpn-01 is answered before any route
// is looked up, and an https binding is only in the table once its certificate exists).
bool challengeListenerOpen(const loop::DataPlane& plane, const std::string& name, bool https);

}  // namespace siteplane::server

#pragma once

// What the compile pass knows about one Site as it goes: its id, whether its root may be served,
// whom it trusts for client certificates, and (once the bindings are settled) its policy.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "controller/api/site.h"
#include "controller/compile/client_trust.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::compile {

struct SiteState {
  const api::Site* site = nullptr;
  std::optional<int64_t> siteId;
  std::string rootError;  // the root would expose a protected directory ("" when it may be served)
  ClientTrust trust;
  uint16_t httpsRedirectPort = 0;  // of the site's oldest served https binding, 0 for none
  std::shared_ptr<const table::SitePolicy> policy;
};

}  // namespace siteplane::compile

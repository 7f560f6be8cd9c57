#pragma once

#include "common/status.h"

namespace siteplane::source {

// Where desired state comes from: something that keeps the store holding the objects it
// declares (the manifest directory today; a Kubernetes list-and-watch later). The server core
// knows sources only through this, so another one plugs in at one place.
class Source {
 public:
  virtual ~Source() = default;

  // Brings the store in line with the source once, on the calling thread (so the store holds the
  // source's objects when it returns), then keeps it in line until stop().
  virtual Status start() = 0;
  // Stops following the source; idempotent. Nothing is written to the store after it returns.
  virtual void stop() = 0;
  // Looks at the whole source again now (serve's SIGHUP). Any thread; a no-op before start() or
  // after stop().
  virtual void rescan() = 0;
};

}  // namespace siteplane::source

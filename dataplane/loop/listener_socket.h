#pragma once

// Opens the listening sockets of one table listener, on the publishing thread: one SO_REUSEPORT
// socket per worker and address family, bound and listening before any worker sees them. Doing it
// centrally makes a bind error synchronous and reportable per listener (the Binding's
// Programmed=False reason), and the kernel spreads connections over the workers' sockets.

#include <string>
#include <vector>

#include "common/status.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::loop {

class ListenerSockets {
 public:
  // "*" binds 0.0.0.0 and :: (IPV6_V6ONLY, so the two never overlap); a literal binds that address.
  // The error names the address and the reason ("127.0.0.1:8443: address already in use").
  static Result<ListenerSockets> open(const table::ListenerKey& key, unsigned workers);

  ListenerSockets() = default;
  ListenerSockets(ListenerSockets&& other) noexcept;
  ListenerSockets& operator=(ListenerSockets&& other) noexcept;
  ListenerSockets(const ListenerSockets&) = delete;
  ListenerSockets& operator=(const ListenerSockets&) = delete;
  ~ListenerSockets();  // closes descriptors not taken

  // "127.0.0.1:8443", "[::]:8443"
  const std::vector<std::string>& boundAddresses() const { return boundAddresses_; }
  // The descriptors for one worker (one per address family). Ownership passes to the caller.
  std::vector<int> take(unsigned worker);

 private:
  std::vector<std::string> boundAddresses_;
  std::vector<std::vector<int>> perWorker_;
};

}  // namespace siteplane::loop

#pragma once

// What the data plane answers when it has applied a published BindingTable: for each listener of
// the table whether it listens, where, or why not. The contract between the controller (which
// writes Programmed from it) and the data plane, next to the table it reports on.

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/table/binding_table.h"

namespace siteplane::table {

struct ListenerReport {
  ListenerKey key;
  bool listening = false;
  std::string error;                        // "127.0.0.1:8443: address already in use"
  std::vector<std::string> boundAddresses;  // "127.0.0.1:8443", "[::]:8443"
};

struct PublishReport {
  uint64_t generation = 0;
  std::vector<ListenerReport> listeners;  // one per listener of the published table
};

}  // namespace siteplane::table

#pragma once

// Listeners of the live table that the data plane could not open (the bind failed: port in use,
// address not on this machine), each with its error. They stay in the table, but nothing of ours
// accepts on them: `show sslcert` marks their bindings and `explain` answers as a client finds it.

#include <string>
#include <unordered_map>

#include "dataplane/table/binding_table.h"

namespace siteplane::runtime {

using ListenerErrors = std::unordered_map<table::ListenerKey, std::string, table::ListenerKeyHash>;

}  // namespace siteplane::runtime

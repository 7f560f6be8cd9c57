#pragma once

#include <atomic>
#include <ostream>

#include "controller/certs/certificate_store.h"
#include "dataplane/loop/data_plane.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::cli {

// How to try what is served: one curl line per programmed route, or a line saying nothing is
// programmed yet.
void printHowToTry(const table::BindingTable& table, const certs::CertificateStore& certificates,
                   std::ostream& out);

// Waits (up to ten seconds, or until `stopping`) for the first table to be live, an empty one
// when nothing is declared, and prints how to try it to stdout. Runs on serve's hint thread.
void printHowToTryOnceLive(const loop::DataPlane& dataPlane,
                           const certs::CertificateStore& certificates,
                           const std::atomic<bool>& stopping);

}  // namespace siteplane::cli

#pragma once

// The API's SSL enums in the binding table's terms (the table does not know the API's types).

#include "controller/api/site.h"
#include "dataplane/table/binding_table.h"

namespace siteplane::compile {

inline table::TlsVersion toTable(api::TlsVersion version) {
  return version == api::TlsVersion::k1_3 ? table::TlsVersion::k1_3 : table::TlsVersion::k1_2;
}

inline table::ClientCertificateMode toTable(api::ClientCertificateMode mode) {
  switch (mode) {
    case api::ClientCertificateMode::kAccept:
      return table::ClientCertificateMode::kAccept;
    case api::ClientCertificateMode::kRequire:
      return table::ClientCertificateMode::kRequire;
    case api::ClientCertificateMode::kIgnore:
      break;
  }
  return table::ClientCertificateMode::kIgnore;
}

}  // namespace siteplane::compile

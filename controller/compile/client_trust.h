#pragma once

// What a Site that asks for client certificates trusts: the CAs its spec.ssl.clientCARefs name
// and their CRLs. A CRL is kept as last read and checked, so that a file replaced by a broken one
// does not lose revocation: the site goes on with the last good CRL and says so.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "controller/api/site.h"
#include "controller/api/time.h"
#include "controller/certs/import_path_policy.h"
#include "controller/compile/certificate_cache.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::compile {

struct ClientTrust {
  std::vector<std::string> caPems;
  std::string caKey;  // the CAs' thumbprints, part of the TLS context cache key
  // Why the site's https bindings cannot be served: a CA that is missing or not Ready, or a CRL
  // that was never good. `crlReason` set means the CRL is why.
  std::string error;
  std::vector<tls::ClientCrl> crls;
  std::string crlKey;  // identifies the CRLs' content, part of the TLS context cache key
  // Why a CRL is not what its file holds (the last good one is used), or is past nextUpdate.
  std::string crlReason;
  std::string crlMessage;
};

class ClientTrustLoader {
 public:
  // CRL files are read through `importPolicy` when one is given (serve: the directories
  // Certificate imports may read, never the state directory); relative paths (objects created
  // through the API) resolve against `manifestsDir`, as spec.source paths do.
  ClientTrustLoader(std::filesystem::path manifestsDir,
                    std::shared_ptr<const certs::ImportPathPolicy> importPolicy);

  void beginPass() { used_.clear(); }
  // The trust of `site` (empty when it ignores client certificates); every CRL file it names is
  // appended to `crlFiles`, for the caller to watch.
  ClientTrust load(const api::Site& site, CertificateCache& certificates, api::Time now,
                   std::vector<std::filesystem::path>& crlFiles);
  // Forgets the CRLs no site of the pass named.
  void endPass();

 private:
  struct LoadedCrl {
    std::string data;
    int64_t nextUpdate = 0;  // seconds since the epoch, 0 when the CRL has none
  };

  bool loadCAs(const api::Site& site, CertificateCache& certificates, api::Time now,
               ClientTrust& trust) const;
  // False when the site cannot be served (a CRL that was never good).
  bool loadCrl(const api::Site& site, size_t ref, api::Time now, ClientTrust& trust,
               std::vector<std::filesystem::path>& crlFiles);
  // Every CRL path the controller opens goes through here, so that a restriction of the
  // directories it may read applies in one place.
  Result<std::string> readCrlFile(const std::string& path, certs::ImportOrigin origin,
                                  std::filesystem::path& resolved) const;

  const std::filesystem::path manifestsDir_;
  const std::shared_ptr<const certs::ImportPathPolicy> importPolicy_;  // null: no restriction
  std::unordered_map<std::string, LoadedCrl> crls_;  // "path|CA thumbprints" -> last good
  std::unordered_set<std::string> used_;             // keys of crls_ named in this pass
};

}  // namespace siteplane::compile

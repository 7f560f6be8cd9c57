#pragma once

// TLS contexts by what makes them differ: the certificate's thumbprint and the site's SSL
// settings and client trust. A compile takes the contexts it serves from the last one's when
// nothing they depend on changed, so a change to one certificate rebuilds only the contexts that
// serve it, and an SSL_CTX is never built twice in one pass.

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "controller/api/binding.h"
#include "controller/compile/binding_refs.h"
#include "controller/compile/certificate_cache.h"
#include "controller/compile/site_state.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::certs {
class CertificateStore;
}

namespace siteplane::compile {

class TlsContextCache {
 public:
  // `store` names the key files in the contexts' diagnostics; it must outlive the cache.
  explicit TlsContextCache(const certs::CertificateStore& store) : store_(store) {}

  void beginPass();
  // The context an https winner serves (its bundle set), built or reused.
  Result<std::shared_ptr<const tls::ServerContext>> contextFor(
      const Candidate& winner, const api::Binding& binding, const SiteState& site,
      const CertificateCache& certificates);
  // Keeps only the contexts this pass used.
  void endPass();

  size_t built() const { return built_; }    // in this pass, not from the cache
  size_t reused() const { return reused_; }  // in this pass, from the last one

 private:
  tls::ServerContextOptions optionsFor(const Candidate& winner, const api::Binding& binding,
                                       const SiteState& site,
                                       const CertificateCache& certificates) const;

  const certs::CertificateStore& store_;
  std::unordered_map<std::string, std::shared_ptr<const tls::ServerContext>> previous_;
  std::unordered_map<std::string, std::shared_ptr<const tls::ServerContext>> current_;
  size_t built_ = 0;
  size_t reused_ = 0;
};

}  // namespace siteplane::compile

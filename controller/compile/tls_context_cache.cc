#include "controller/compile/tls_context_cache.h"

#include <fmt/format.h>

#include "controller/certs/certificate_store.h"
#include "controller/compile/table_conversion.h"

namespace siteplane::compile {

void TlsContextCache::beginPass() {
  current_.clear();
  built_ = 0;
  reused_ = 0;
}

void TlsContextCache::endPass() {
  previous_ = std::move(current_);
  current_.clear();
}

Result<std::shared_ptr<const tls::ServerContext>> TlsContextCache::contextFor(
    const Candidate& winner, const api::Binding& binding, const SiteState& site,
    const CertificateCache& certificates) {
  const auto& ssl = site.site->spec.ssl;
  const std::string cacheKey =
      fmt::format("{}|{}|{}|{}|{}|{}", winner.bundle->leaf().thumbprint(),
                  api::toString(ssl.minTLSVersion), ssl.require128BitCiphers,
                  api::toString(ssl.clientCertificate), site.trust.caKey, site.trust.crlKey);
  if (auto built = current_.find(cacheKey); built != current_.end()) return built->second;
  if (auto cached = previous_.find(cacheKey); cached != previous_.end()) {
    current_.emplace(cacheKey, cached->second);
    ++reused_;
    return cached->second;
  }
  tls::ServerContextOptions options = optionsFor(winner, binding, site, certificates);
  auto created = tls::ServerContext::create(options);
  if (!created)
    return Result<std::shared_ptr<const tls::ServerContext>>::error(
        fmt::format("Certificate {}: {}", options.name, created.message()));
  std::shared_ptr<const tls::ServerContext> context = *created;
  current_.emplace(cacheKey, context);
  ++built_;
  return context;
}

tls::ServerContextOptions TlsContextCache::optionsFor(const Candidate& winner,
                                                      const api::Binding& binding,
                                                      const SiteState& site,
                                                      const CertificateCache& certificates) const {
  const auto& ssl = site.site->spec.ssl;
  tls::ServerContextOptions options;
  options.name = binding.metadata.namespaceName + "/" + binding.spec.certificateRef->name;
  // The decoded chain and key the certificate store holds: encoding them to PEM for the context
  // to decode again would cost more than building the context.
  for (const auto& certificate : winner.bundle->chain)
    options.certificateChain.push_back(certificate.native());
  options.privateKey = winner.bundle->key.native();
  options.minVersion = toTable(ssl.minTLSVersion);
  options.require128BitCiphers = ssl.require128BitCiphers;
  options.clientCertificate = toTable(ssl.clientCertificate);
  options.clientCAPems = site.trust.caPems;
  options.clientCRLs = site.trust.crls;
  options.keyStorePath = store_.keyPath(options.name).string();
  if (const api::Certificate* certificate = certificates.find(options.name);
      certificate && certificate->spec.source) {
    const api::CertificateSource& source = *certificate->spec.source;
    options.importedFrom = source.pkcs12File.empty() ? source.certificateFile : source.pkcs12File;
  }
  return options;
}

}  // namespace siteplane::compile

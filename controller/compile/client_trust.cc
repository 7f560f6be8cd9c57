#include "controller/compile/client_trust.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "controller/compile/condition_plan.h"

namespace siteplane::compile {

ClientTrustLoader::ClientTrustLoader(std::filesystem::path manifestsDir,
                                     std::shared_ptr<const certs::ImportPathPolicy> importPolicy)
    : manifestsDir_(std::move(manifestsDir)), importPolicy_(std::move(importPolicy)) {}

ClientTrust ClientTrustLoader::load(const api::Site& site, CertificateCache& certificates,
                                    api::Time now, std::vector<std::filesystem::path>& crlFiles) {
  ClientTrust trust;
  if (site.spec.ssl.clientCertificate == api::ClientCertificateMode::kIgnore) return trust;
  if (!loadCAs(site, certificates, now, trust)) return trust;
  const auto& refs = site.spec.ssl.clientCARefs;
  for (size_t r = 0; r < refs.size(); ++r) {
    if (refs[r].crlFile.empty()) continue;
    if (!loadCrl(site, r, now, trust, crlFiles)) break;
  }
  return trust;
}

void ClientTrustLoader::endPass() {
  std::erase_if(crls_, [&](const auto& entry) { return !used_.count(entry.first); });
}

bool ClientTrustLoader::loadCAs(const api::Site& site, CertificateCache& certificates,
                                api::Time now, ClientTrust& trust) const {
  for (const auto& ref : site.spec.ssl.clientCARefs) {
    auto ca = certificates.lookup(site.metadata.namespaceName, ref.name, now);
    if (!ca.bundle) {
      trust.error = ca.message;
      return false;
    }
    trust.caPems.push_back(ca.bundle->leaf().toPem());
    trust.caKey += ca.bundle->leaf().thumbprint() + ",";
  }
  return true;
}

bool ClientTrustLoader::loadCrl(const api::Site& site, size_t r, api::Time now, ClientTrust& trust,
                                std::vector<std::filesystem::path>& crlFiles) {
  const api::ClientCAReference& ref = site.spec.ssl.clientCARefs[r];
  const std::string field = fmt::format("spec.ssl.clientCARefs[{}].crlFile", r);
  std::filesystem::path resolved;
  auto data = readCrlFile(ref.crlFile, certs::importOriginOf(site.metadata.annotations), resolved);
  crlFiles.push_back(resolved);
  const std::string cacheKey = resolved.string() + "|" + trust.caKey;
  tls::ClientCrl crl{fmt::format("{} {}", field, resolved.string()), data ? *data : ""};
  int64_t nextUpdate = 0;
  Status checked = data ? tls::checkClientCrl(crl, {trust.caPems[r]}, &nextUpdate) : data.status();
  used_.insert(cacheKey);
  auto& last = crls_[cacheKey];
  // checkClientCrl names the CRL first; the condition names the field and the file once.
  std::string problem = checked ? std::string() : checked.message();
  if (problem.starts_with(crl.name + ": ")) problem = problem.substr(crl.name.size() + 2);
  const std::string where = fmt::format("{} {}", field, resolved.string());
  if (checked) {
    last = {crl.data, nextUpdate};
  } else if (last.data.empty()) {
    // Never a good one: serving without the revocation the operator asked for would let revoked
    // certificates in, so the site's https bindings wait for a readable CRL.
    crls_.erase(cacheKey);
    trust.error = fmt::format("{}: {}", where, problem);
    trust.crlReason = reason::kInvalidCRL;
    return false;
  } else {
    trust.crlReason = reason::kInvalidCRL;
    trust.crlMessage = fmt::format("{}: {}; serving with the last good CRL", where, problem);
    crl.data = last.data;
  }
  if (last.nextUpdate != 0 && last.nextUpdate < now.time_since_epoch().count() &&
      trust.crlReason.empty()) {
    trust.crlReason = reason::kCRLExpired;
    trust.crlMessage = fmt::format(
        "{}: the CRL's nextUpdate {} has passed; client certificates of Certificate {} get "
        "403.13 until a fresh CRL is loaded",
        where, api::formatTime(api::Time(std::chrono::seconds(last.nextUpdate))), ref.name);
  }
  trust.crlKey += fmt::format("{}:{:x},", crl.data.size(), std::hash<std::string>()(crl.data));
  trust.crls.push_back(std::move(crl));
  return true;
}

Result<std::string> ClientTrustLoader::readCrlFile(const std::string& path,
                                                   certs::ImportOrigin origin,
                                                   std::filesystem::path& resolved) const {
  // A CRL of a large CA runs to megabytes; this only bounds what a wrong path can cost.
  constexpr std::uintmax_t kMaxCrlBytes = 64u << 20;
  resolved = std::filesystem::path(path);
  if (resolved.is_relative() && !manifestsDir_.empty()) resolved = manifestsDir_ / resolved;
  resolved = resolved.lexically_normal();
  // The API token holder must not make siteplane read what the operator did not allow (a key in
  // the state directory, any file outside the import roots): the policy checks, then reads.
  if (importPolicy_) {
    auto data = importPolicy_->read(resolved, origin, kMaxCrlBytes);
    if (data) return data;
    // The condition names the field and the file already; keep only what is wrong with it.
    std::string_view problem = data.message();
    if (problem.starts_with(resolved.string())) problem.remove_prefix(resolved.string().size());
    if (problem.starts_with(":")) problem.remove_prefix(1);
    if (problem.starts_with(" ")) problem.remove_prefix(1);
    return Result<std::string>::error(std::string(problem));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(resolved, ec))
    return Result<std::string>::error("cannot read the file (not a regular file)");
  auto size = std::filesystem::file_size(resolved, ec);
  if (ec || size > kMaxCrlBytes)
    return Result<std::string>::error("cannot read the file (too large)");
  std::ifstream in(resolved, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return Result<std::string>::error("cannot read the file");
  return data;
}

}  // namespace siteplane::compile

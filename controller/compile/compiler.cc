#include "controller/compile/compiler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <tuple>
#include <unordered_set>

#include "common/logging.h"
#include "controller/api/validation.h"
#include "controller/certs/certificate_store.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::compile {
namespace {

using api::ConditionStatus;

std::string lowerHost(std::string host) {
  if (!host.empty() && host.back() == '.') host.pop_back();
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

std::string describeListener(const table::ListenerKey& key) {
  if (key.address.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", key.address, key.port);
  return fmt::format("{}:{}", key.address, key.port);
}

table::TlsVersion toTable(api::TlsVersion version) {
  return version == api::TlsVersion::k1_3 ? table::TlsVersion::k1_3 : table::TlsVersion::k1_2;
}

table::ClientCertificateMode toTable(api::ClientCertificateMode mode) {
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

// Oldest first: creationTimestamp, then name, then namespace. An object without a timestamp (built
// in code, never stored) sorts last so that a stored object keeps its claim.
using Age = std::tuple<api::Time, std::string, std::string>;
Age ageOf(const api::ObjectMeta& metadata) {
  return {metadata.creationTimestamp.value_or(api::Time::max()), metadata.name,
          metadata.namespaceName};
}

ConditionPlan condition(const char* type, ConditionStatus status, std::string reason,
                        std::string message) {
  return {type, status, std::move(reason), std::move(message)};
}

// What a site contributes to its https bindings: its trusted client CAs, or why they are missing.
struct SiteState {
  const api::Site* site = nullptr;
  std::optional<int64_t> siteId;
  std::vector<std::string> clientCAPems;
  std::string clientCAKey;  // the CAs' thumbprints, part of the TLS context cache key
  std::string clientCAError;
  std::string rootError;  // the root would expose a protected directory
  std::vector<tls::ClientCrl> clientCRLs;
  std::string crlKey;  // identifies the CRLs' content, part of the TLS context cache key
  // Why a CRL is not what its file holds (the last good one is used), or is past nextUpdate.
  std::string crlReason;
  std::string crlMessage;
  uint16_t httpsRedirectPort = 0;
  std::shared_ptr<const table::SitePolicy> policy;
};

// Component-wise: /srv/www-old is not within /srv/www.
bool pathWithin(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

}  // namespace

void mergeConditions(std::vector<api::Condition>& conditions,
                     const std::vector<ConditionPlan>& plans, int64_t generation, api::Time now) {
  for (const auto& plan : plans) {
    api::Condition next;
    next.type = plan.type;
    next.status = plan.status;
    next.reason = plan.reason;
    next.message = plan.message;
    next.observedGeneration = generation;
    // setCondition keeps lastTransitionTime unless the status flips; its result is not needed
    // here because callers compare the whole encoded status before writing.
    (void)api::setCondition(conditions, std::move(next), now);
  }
}

Compiler::Compiler(const certs::CertificateStore& certificates, std::filesystem::path manifestsDir,
                   std::vector<std::filesystem::path> protectedDirs,
                   std::shared_ptr<const certs::ImportPathPolicy> importPolicy)
    : certificates_(certificates),
      manifestsDir_(std::move(manifestsDir)),
      protectedDirs_(std::move(protectedDirs)),
      importPolicy_(std::move(importPolicy)) {}

Compiler::CertificateLookup Compiler::lookupCertificate(
    const std::string& ns, const std::string& name,
    const std::unordered_map<std::string, const api::Certificate*>& byName, api::Time now) {
  std::string key = ns + "/" + name;
  auto found = byName.find(key);
  if (found == byName.end())
    return {nullptr, reason::kCertificateNotFound, fmt::format("Certificate {} not found", key)};
  const api::Certificate& certificate = *found->second;
  const api::Condition* ready = api::findCondition(certificate.status.conditions, "Ready");
  if (!ready || ready->status != ConditionStatus::kTrue) {
    std::string why = ready ? fmt::format("{}: {}", ready->reason, ready->message)
                            : std::string("no Ready condition yet");
    return {nullptr, reason::kCertificateNotReady,
            fmt::format("Certificate {} is not Ready ({})", key, why)};
  }
  const std::string& thumbprint = certificate.status.thumbprint;
  if (thumbprint.empty())
    return {nullptr, reason::kCertificateNotReady,
            fmt::format("Certificate {} is Ready but has no status.thumbprint", key)};

  std::shared_ptr<const certs::CertificateBundle> bundle;
  auto cached = bundles_.find(key);
  if (cached != bundles_.end() && cached->second.thumbprint == thumbprint) {
    bundle = cached->second.bundle;
  } else {
    auto stored = certificates_.get(key);
    if (!stored)
      return {nullptr, reason::kCertificateNotReady,
              fmt::format("Certificate {}: certificate store: {}", key, stored.message())};
    if (!stored->has_value())
      return {nullptr, reason::kCertificateNotReady,
              fmt::format("Certificate {} has no key pair in the certificate store", key)};
    if ((*stored)->leaf().thumbprint() != thumbprint)
      return {nullptr, reason::kCertificateNotReady,
              fmt::format("Certificate {}: the stored certificate {} is not status.thumbprint {}",
                          key, (*stored)->leaf().thumbprint(), thumbprint)};
    bundle = std::make_shared<const certs::CertificateBundle>(std::move(**stored));
    bundles_[key] = {thumbprint, bundle};
  }
  // The certificate reconciler reports expiry as Ready=False; checked here as well because a
  // status written before the certificate expired may not have been refreshed yet, and serving an
  // expired certificate is never right.
  auto validity = bundle->leaf().validityAt(now);
  if (validity != certs::Validity::kValid)
    return {
        nullptr, reason::kCertificateNotReady,
        fmt::format("Certificate {} ({}) is {}", key, thumbprint, certs::validityReason(validity))};
  return {std::move(bundle), "", ""};
}

std::string Compiler::refuseRoot(const api::Site& site,
                                 const std::vector<std::filesystem::path>& protectedDirs) const {
  std::filesystem::path root(site.spec.root);
  if (root.is_relative()) root = manifestsDir_ / root;
  root = root.lexically_normal();
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(root, ec);
  if (ec) canonical = root;
  // The kernel's own trees are never content: /proc/self/fd/N and /dev/fd/N name whatever the
  // process has open when a request comes (the store's directories included), /proc/self/environ
  // the process's environment. Lexically and canonically, so neither spelling nor symlink passes.
  for (const char* pseudo : {"/proc", "/sys", "/dev"}) {
    if (pathWithin(root, pseudo) || pathWithin(canonical, pseudo))
      return fmt::format("spec.root {} lies inside {}, which a site may not serve", site.spec.root,
                         pseudo);
  }
  for (const auto& dir : protectedDirs) {
    if (!pathWithin(canonical, dir) && !pathWithin(dir, canonical)) continue;
    return fmt::format(
        "spec.root {} {} the state directory {} (the API token, CA and private keys): a site may "
        "not serve it",
        site.spec.root,
        canonical == dir             ? "is"
        : pathWithin(canonical, dir) ? "lies inside"
                                     : "contains",
        dir.string());
  }
  // A Site from the API serves only what the operator put in reach of API objects: the manifest
  // directory (where site content lives next to its manifests) and the --import-root
  // directories. A manifest file's author is the operator and may serve any other directory.
  if (importPolicy_ &&
      certs::importOriginOf(site.metadata.annotations) == certs::ImportOrigin::kApi &&
      !importPolicy_->servableByApi(canonical)) {
    return fmt::format(
        "spec.root {} is outside the directories a Site created through the API may serve (the "
        "manifest directory and the --import-root directories)",
        site.spec.root);
  }
  return "";
}

Result<std::string> Compiler::readCrlFile(const std::string& path, certs::ImportOrigin origin,
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

CompileOutput Compiler::compile(const CompileInput& input) {
  CompileOutput out;
  auto log = logger("controller.compile");

  std::unordered_map<std::string, const api::Certificate*> certificatesByName;
  certificatesByName.reserve(input.certificates.size());
  for (const auto& certificate : input.certificates)
    certificatesByName[certificate.metadata.namespaceName + "/" + certificate.metadata.name] =
        &certificate;
  // Bundles of certificates that no longer exist are dropped; the rest stay cached.
  std::erase_if(bundles_,
                [&](const auto& entry) { return !certificatesByName.count(entry.first); });

  // Sites: site ids first. Explicit ids claim in age order; an id already assigned in status is
  // kept when free (ids must not move around); the rest get the lowest free id.
  std::vector<size_t> siteOrder(input.sites.size());
  for (size_t i = 0; i < siteOrder.size(); ++i) siteOrder[i] = i;
  std::sort(siteOrder.begin(), siteOrder.end(), [&](size_t a, size_t b) {
    return ageOf(input.sites[a].metadata) < ageOf(input.sites[b].metadata);
  });
  std::vector<SiteState> sites(input.sites.size());
  out.sites.resize(input.sites.size());
  std::unordered_map<int64_t, size_t> idOwner;
  std::unordered_map<std::string, size_t> sitesByName;
  for (size_t i : siteOrder) {
    const api::Site& site = input.sites[i];
    sites[i].site = &site;
    out.sites[i].key = {api::Site::kKind, site.metadata.namespaceName, site.metadata.name};
    sitesByName[site.metadata.namespaceName + "/" + site.metadata.name] = i;
    if (!site.spec.siteId) continue;
    auto [owner, inserted] = idOwner.emplace(*site.spec.siteId, i);
    if (inserted) {
      sites[i].siteId = site.spec.siteId;
    } else {
      const api::Site& holder = input.sites[owner->second];
      out.sites[i].ready =
          condition("Ready", ConditionStatus::kFalse, reason::kSiteIdConflict,
                    fmt::format("spec.siteId {} is already used by Site {}/{}", *site.spec.siteId,
                                holder.metadata.namespaceName, holder.metadata.name));
    }
  }
  for (size_t i : siteOrder) {
    const api::Site& site = input.sites[i];
    if (site.spec.siteId || !site.status.siteId) continue;
    if (idOwner.emplace(*site.status.siteId, i).second) sites[i].siteId = site.status.siteId;
  }
  int64_t nextFree = 1;
  for (size_t i : siteOrder) {
    if (sites[i].siteId || input.sites[i].spec.siteId) continue;
    while (idOwner.count(nextFree)) ++nextFree;
    idOwner.emplace(nextFree, i);
    sites[i].siteId = nextFree;
  }

  // Roots that would serve the state directory: the same directory, one inside it, or one that
  // holds it. Canonical paths (symlinks and ".." resolved), since the data plane follows symlinks
  // inside a root.
  std::vector<std::filesystem::path> protectedDirs;
  for (const auto& dir : protectedDirs_) {
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(dir, ec);
    protectedDirs.push_back(ec ? dir.lexically_normal() : canonical);
  }
  for (size_t i = 0; i < sites.size(); ++i)
    if (!input.sites[i].spec.root.empty())
      sites[i].rootError = refuseRoot(input.sites[i], protectedDirs);

  // Client CAs of sites that ask for client certificates, and their CRLs.
  std::unordered_set<std::string> usedCrls;
  for (size_t i = 0; i < sites.size(); ++i) {
    const api::Site& site = input.sites[i];
    if (site.spec.ssl.clientCertificate == api::ClientCertificateMode::kIgnore) continue;
    for (const auto& ref : site.spec.ssl.clientCARefs) {
      auto ca =
          lookupCertificate(site.metadata.namespaceName, ref.name, certificatesByName, input.now);
      if (!ca.bundle) {
        sites[i].clientCAError = ca.message;
        break;
      }
      sites[i].clientCAPems.push_back(ca.bundle->leaf().toPem());
      sites[i].clientCAKey += ca.bundle->leaf().thumbprint() + ",";
    }
    if (!sites[i].clientCAError.empty()) continue;
    const auto& refs = site.spec.ssl.clientCARefs;
    for (size_t r = 0; r < refs.size(); ++r) {
      if (refs[r].crlFile.empty()) continue;
      const std::string field = fmt::format("spec.ssl.clientCARefs[{}].crlFile", r);
      std::filesystem::path resolved;
      auto data =
          readCrlFile(refs[r].crlFile, certs::importOriginOf(site.metadata.annotations), resolved);
      out.crlFiles.push_back(resolved);
      const std::string cacheKey = resolved.string() + "|" + sites[i].clientCAKey;
      tls::ClientCrl crl{fmt::format("{} {}", field, resolved.string()), data ? *data : ""};
      int64_t nextUpdate = 0;
      Status checked =
          data ? tls::checkClientCrl(crl, {sites[i].clientCAPems[r]}, &nextUpdate) : data.status();
      usedCrls.insert(cacheKey);
      auto& last = crls_[cacheKey];
      // checkClientCrl names the CRL first; the condition names the field and the file once.
      std::string problem = checked.message();
      if (problem.starts_with(crl.name + ": ")) problem = problem.substr(crl.name.size() + 2);
      const std::string where = fmt::format("{} {}", field, resolved.string());
      if (checked) {
        last = {crl.data, nextUpdate};
      } else if (last.data.empty()) {
        // Never a good one: serving without the revocation the operator asked for would let
        // revoked certificates in, so the site's https bindings wait for a readable CRL.
        crls_.erase(cacheKey);
        sites[i].clientCAError = fmt::format("{}: {}", where, problem);
        sites[i].crlReason = reason::kInvalidCRL;
        break;
      } else {
        sites[i].crlReason = reason::kInvalidCRL;
        sites[i].crlMessage = fmt::format("{}: {}; serving with the last good CRL", where, problem);
        crl.data = last.data;
      }
      if (last.nextUpdate != 0 && last.nextUpdate < input.now.time_since_epoch().count() &&
          sites[i].crlReason.empty()) {
        sites[i].crlReason = reason::kCRLExpired;
        sites[i].crlMessage = fmt::format(
            "{}: the CRL's nextUpdate {} has passed; client certificates of Certificate {} get "
            "403.13 until a fresh CRL is loaded",
            where, api::formatTime(api::Time(std::chrono::seconds(last.nextUpdate))), refs[r].name);
      }
      sites[i].crlKey +=
          fmt::format("{}:{:x},", crl.data.size(), std::hash<std::string>()(crl.data));
      sites[i].clientCRLs.push_back(std::move(crl));
    }
  }

  std::erase_if(crls_, [&](const auto& entry) { return !usedCrls.count(entry.first); });

  // Bindings: references.
  struct Candidate {
    size_t binding;
    size_t site;
    table::ListenerKey listener;
    std::string host;  // lower-case, no trailing dot
    std::shared_ptr<const certs::CertificateBundle> bundle;
  };
  std::vector<Candidate> candidates;
  candidates.reserve(input.bindings.size());
  out.bindings.resize(input.bindings.size());
  std::vector<ConditionPlan> resolved(input.bindings.size());
  for (size_t b = 0; b < input.bindings.size(); ++b) {
    const api::Binding& binding = input.bindings[b];
    BindingPlan& plan = out.bindings[b];
    const std::string& ns = binding.metadata.namespaceName;
    plan.key = {api::Binding::kKind, ns, binding.metadata.name};
    // "0.0.0.0", "::", "0:0::1", "::ffff:127.0.0.1": the form connections are routed by, so
    // that a listener the table opens is one its routes are found on.
    plan.listener = {api::canonicalListenAddress(binding.spec.address), binding.spec.port};
    plan.conditions.push_back(
        condition("Accepted", ConditionStatus::kTrue, reason::kAccepted, "the binding is valid"));
    auto fail = [&](const char* why, std::string message) {
      resolved[b] = condition("ResolvedRefs", ConditionStatus::kFalse, why, std::move(message));
    };
    auto site = sitesByName.find(ns + "/" + binding.spec.siteRef.name);
    if (site == sitesByName.end()) {
      fail(reason::kSiteNotFound,
           fmt::format("Site {}/{} not found", ns, binding.spec.siteRef.name));
      continue;
    }
    if (!sites[site->second].rootError.empty()) {
      fail(reason::kRootNotAllowed, sites[site->second].rootError);
      continue;
    }
    Candidate candidate{b, site->second, plan.listener, lowerHost(binding.spec.hostName), nullptr};
    if (binding.spec.protocol == api::Protocol::kHttps) {
      if (!binding.spec.certificateRef) {
        fail(reason::kCertificateNotFound, "an https binding needs spec.certificateRef");
        continue;
      }
      auto found =
          lookupCertificate(ns, binding.spec.certificateRef->name, certificatesByName, input.now);
      if (!found.bundle) {
        fail(found.reason.c_str(), found.message);
        continue;
      }
      if (!binding.spec.hostName.empty() &&
          !found.bundle->leaf().coversHost(binding.spec.hostName)) {
        const auto& info = found.bundle->leaf().info();
        std::string names = fmt::format("{}", fmt::join(info.dnsNames, ", "));
        if (!info.ipAddresses.empty())
          names +=
              (names.empty() ? "" : ", ") + fmt::format("{}", fmt::join(info.ipAddresses, ", "));
        fail(reason::kCertificateHostMismatch,
             fmt::format("Certificate {}/{} ({}) does not cover host {}: its names are [{}]", ns,
                         binding.spec.certificateRef->name, info.thumbprint, binding.spec.hostName,
                         names));
        continue;
      }
      if (!sites[site->second].clientCAError.empty()) {
        fail(
            sites[site->second].crlReason.empty() ? reason::kClientCANotFound : reason::kInvalidCRL,
            sites[site->second].clientCAError);
        continue;
      }
      candidate.bundle = std::move(found.bundle);
    }
    resolved[b] = condition("ResolvedRefs", ConditionStatus::kTrue, reason::kResolvedRefs,
                            "every reference is resolved");
    candidates.push_back(std::move(candidate));
  }

  // Conflicts: the oldest binding claims a (listener, host) and the port's protocol; a younger
  // one asking for either is not served.
  std::sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    return ageOf(input.bindings[a.binding].metadata) < ageOf(input.bindings[b.binding].metadata);
  });
  struct ListenerClaims {
    std::unordered_map<std::string, const api::Binding*> hosts;
  };
  std::unordered_map<table::ListenerKey, ListenerClaims, table::ListenerKeyHash> claims;
  // One protocol per port, whatever the address: a connection on an exact address whose host no
  // route takes is routed by the "*" listener of that port, which must speak the same protocol.
  struct PortClaim {
    api::Protocol protocol;
    const api::Binding* owner;
    table::ListenerKey listener;
  };
  std::unordered_map<uint16_t, PortClaim> ports;
  std::vector<Candidate> winners;
  winners.reserve(candidates.size());
  for (auto& candidate : candidates) {
    const api::Binding& binding = input.bindings[candidate.binding];
    BindingPlan& plan = out.bindings[candidate.binding];
    auto [port, portInserted] = ports.try_emplace(
        candidate.listener.port, PortClaim{binding.spec.protocol, &binding, candidate.listener});
    if (port->second.protocol != binding.spec.protocol) {
      plan.conditions.push_back(condition(
          "Conflicted", ConditionStatus::kTrue, reason::kProtocolConflict,
          fmt::format("port {} is already {} on {} (Binding {}/{}, older): one port serves one "
                      "protocol on every address",
                      candidate.listener.port, api::toString(port->second.protocol),
                      describeListener(port->second.listener),
                      port->second.owner->metadata.namespaceName,
                      port->second.owner->metadata.name)));
      continue;
    }
    ListenerClaims& listener = claims[candidate.listener];
    auto [host, hostInserted] = listener.hosts.emplace(candidate.host, &binding);
    if (!hostInserted) {
      plan.conditions.push_back(condition(
          "Conflicted", ConditionStatus::kTrue, reason::kHostnameConflict,
          fmt::format("host \"{}\" on {} is already bound by Binding {}/{} (older)", candidate.host,
                      describeListener(candidate.listener), host->second->metadata.namespaceName,
                      host->second->metadata.name)));
      continue;
    }
    plan.conditions.push_back(
        condition("Conflicted", ConditionStatus::kFalse, reason::kNoConflicts, "no conflicts"));
    winners.push_back(std::move(candidate));
  }

  // Site policies: a site redirects plain http to its oldest served https binding.
  for (const auto& winner : winners) {
    const api::Binding& binding = input.bindings[winner.binding];
    if (binding.spec.protocol == api::Protocol::kHttps && !sites[winner.site].httpsRedirectPort)
      sites[winner.site].httpsRedirectPort = binding.spec.port;
  }
  for (size_t i = 0; i < sites.size(); ++i) {
    const api::Site& site = input.sites[i];
    auto policy = std::make_shared<table::SitePolicy>();
    policy->name = site.metadata.namespaceName + "/" + site.metadata.name;
    policy->siteId = sites[i].siteId.value_or(0);
    if (!site.spec.root.empty()) {
      std::filesystem::path root(site.spec.root);
      if (root.is_relative()) root = manifestsDir_ / root;
      policy->root = root.lexically_normal();
    }
    policy->upstream = site.spec.upstream;
    policy->requireSSL = site.spec.ssl.requireSSL;
    policy->redirectHTTP = site.spec.ssl.redirectHTTP;
    policy->require128BitCiphers = site.spec.ssl.require128BitCiphers;
    policy->clientCertificate = toTable(site.spec.ssl.clientCertificate);
    policy->minTLSVersion = toTable(site.spec.ssl.minTLSVersion);
    policy->httpsRedirectPort = sites[i].httpsRedirectPort ? sites[i].httpsRedirectPort : 443;
    sites[i].policy = std::move(policy);

    SitePlan& plan = out.sites[i];
    plan.siteId = sites[i].siteId;
    if (!plan.ready.type.empty()) continue;  // SiteIdConflict, decided above
    std::error_code ec;
    if (!sites[i].rootError.empty()) {
      plan.ready =
          condition("Ready", ConditionStatus::kFalse, reason::kRootNotAllowed, sites[i].rootError);
    } else if (!sites[i].clientCAError.empty()) {
      plan.ready =
          condition("Ready", ConditionStatus::kFalse,
                    sites[i].crlReason.empty() ? reason::kClientCANotFound : sites[i].crlReason,
                    sites[i].clientCAError);
    } else if (!sites[i].crlReason.empty()) {
      plan.ready =
          condition("Ready", ConditionStatus::kFalse, sites[i].crlReason, sites[i].crlMessage);
    } else if (!site.spec.root.empty() &&
               !std::filesystem::is_directory(sites[i].policy->root, ec)) {
      plan.ready =
          condition("Ready", ConditionStatus::kFalse, reason::kRootNotFound,
                    fmt::format("spec.root {} is not a directory", sites[i].policy->root.string()));
    } else {
      plan.ready = condition("Ready", ConditionStatus::kTrue, reason::kReady,
                             fmt::format("site id {}", plan.siteId.value_or(0)));
    }
  }

  // TLS contexts, from the cache when the certificate and the site's SSL settings are unchanged,
  // then the table.
  std::unordered_map<std::string, std::shared_ptr<const tls::ServerContext>> contexts;
  table::BindingTable::Builder builder(input.generation);
  for (auto& winner : winners) {
    const api::Binding& binding = input.bindings[winner.binding];
    BindingPlan& plan = out.bindings[winner.binding];
    const SiteState& site = sites[winner.site];
    std::shared_ptr<const tls::ServerContext> context;
    if (winner.bundle) {
      const auto& ssl = site.site->spec.ssl;
      std::string cacheKey =
          fmt::format("{}|{}|{}|{}|{}|{}", winner.bundle->leaf().thumbprint(),
                      api::toString(ssl.minTLSVersion), ssl.require128BitCiphers,
                      api::toString(ssl.clientCertificate), site.clientCAKey, site.crlKey);
      if (auto built = contexts.find(cacheKey); built != contexts.end()) {
        context = built->second;
      } else if (auto cached = contexts_.find(cacheKey); cached != contexts_.end()) {
        context = cached->second;
        contexts.emplace(cacheKey, context);
        ++out.contextsReused;
      } else {
        tls::ServerContextOptions options;
        options.name = binding.metadata.namespaceName + "/" + binding.spec.certificateRef->name;
        // The decoded chain and key the certificate store holds: encoding them to PEM for the
        // context to decode again would cost more than building the context.
        for (const auto& certificate : winner.bundle->chain)
          options.certificateChain.push_back(certificate.native());
        options.privateKey = winner.bundle->key.native();
        options.minVersion = toTable(ssl.minTLSVersion);
        options.require128BitCiphers = ssl.require128BitCiphers;
        options.clientCertificate = toTable(ssl.clientCertificate);
        options.clientCAPems = site.clientCAPems;
        options.clientCRLs = site.clientCRLs;
        options.keyStorePath = certificates_.keyPath(options.name).string();
        if (auto certificate = certificatesByName.find(options.name);
            certificate != certificatesByName.end() && certificate->second->spec.source) {
          const api::CertificateSource& source = *certificate->second->spec.source;
          options.importedFrom =
              source.pkcs12File.empty() ? source.certificateFile : source.pkcs12File;
        }
        auto created = tls::ServerContext::create(options);
        if (!created) {
          resolved[winner.binding] =
              condition("ResolvedRefs", ConditionStatus::kFalse, reason::kInvalidCertificate,
                        fmt::format("Certificate {}: {}", options.name, created.message()));
          continue;
        }
        context = *created;
        contexts.emplace(cacheKey, context);
        ++out.contextsBuilt;
      }
    }
    table::BindingTable::Entry entry;
    entry.listener = winner.listener;
    entry.protocol = binding.spec.protocol == api::Protocol::kHttps ? table::Protocol::kHttps
                                                                    : table::Protocol::kHttp;
    entry.route.binding = binding.metadata.namespaceName + "/" + binding.metadata.name;
    entry.route.bindingGeneration = binding.metadata.generation;
    entry.route.hostName = binding.spec.hostName;
    entry.route.site = site.policy;
    entry.route.tls = context;
    Status added = builder.add(std::move(entry));
    if (!added) {
      // Conflicts were resolved above, so a refusal is a bug here; report it on the binding
      // rather than failing the whole table.
      log->error("table_refused binding={} error=\"{}\"", plan.key.toString(), added.message());
      plan.conditions.push_back(
          condition("Programmed", ConditionStatus::kFalse, "Invalid", added.message()));
      continue;
    }
    plan.inTable = true;
    plan.tls = std::move(context);
  }
  contexts_ = std::move(contexts);
  out.table = std::move(builder).build();

  // ResolvedRefs goes second (after Accepted), and every binding not in the table says why.
  for (size_t b = 0; b < out.bindings.size(); ++b) {
    BindingPlan& plan = out.bindings[b];
    plan.conditions.insert(plan.conditions.begin() + 1, resolved[b]);
    bool hasConflicted = std::any_of(plan.conditions.begin(), plan.conditions.end(),
                                     [](const ConditionPlan& c) { return c.type == "Conflicted"; });
    bool hasProgrammed = std::any_of(plan.conditions.begin(), plan.conditions.end(),
                                     [](const ConditionPlan& c) { return c.type == "Programmed"; });
    if (plan.inTable || hasProgrammed) continue;
    if (resolved[b].status != ConditionStatus::kTrue) {
      if (!hasConflicted)
        plan.conditions.push_back(
            condition("Conflicted", ConditionStatus::kFalse, reason::kNoConflicts, "no conflicts"));
      plan.conditions.push_back(condition("Programmed", ConditionStatus::kFalse,
                                          reason::kRefsNotResolved,
                                          "not served: " + resolved[b].message));
    } else if (hasConflicted) {
      plan.conditions.push_back(condition("Programmed", ConditionStatus::kFalse,
                                          reason::kConflicted,
                                          "not served: " + plan.conditions.back().message));
    }
  }
  return out;
}

}  // namespace siteplane::compile

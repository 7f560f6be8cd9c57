#include "controller/compile/site_roots.h"

#include <fmt/format.h>

#include <system_error>

namespace siteplane::compile {
namespace {

// Component-wise: /srv/www-old is not within /srv/www.
bool pathWithin(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

std::filesystem::path canonicalOrNormal(const std::filesystem::path& path) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path.lexically_normal() : canonical;
}

}  // namespace

SiteRoots::SiteRoots(std::filesystem::path manifestsDir,
                     std::vector<std::filesystem::path> protectedDirs,
                     std::shared_ptr<const certs::ImportPathPolicy> importPolicy)
    : manifestsDir_(std::move(manifestsDir)),
      protectedDirs_(std::move(protectedDirs)),
      importPolicy_(std::move(importPolicy)) {}

std::filesystem::path SiteRoots::resolve(const api::Site& site) const {
  std::filesystem::path root(site.spec.root);
  if (root.is_relative()) root = manifestsDir_ / root;
  return root.lexically_normal();
}

std::vector<std::string> SiteRoots::refusals(const std::vector<api::Site>& sites) const {
  std::vector<std::filesystem::path> protectedDirs;
  protectedDirs.reserve(protectedDirs_.size());
  for (const auto& dir : protectedDirs_) protectedDirs.push_back(canonicalOrNormal(dir));
  std::vector<std::string> out(sites.size());
  for (size_t i = 0; i < sites.size(); ++i)
    if (!sites[i].spec.root.empty()) out[i] = refuse(sites[i], protectedDirs);
  return out;
}

std::string SiteRoots::refuse(const api::Site& site,
                              const std::vector<std::filesystem::path>& protectedDirs) const {
  const std::filesystem::path root = resolve(site);
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

}  // namespace siteplane::compile

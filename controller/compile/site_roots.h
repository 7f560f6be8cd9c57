#pragma once

// Which directories a Site may serve. Never a pseudo filesystem (/proc, /sys, /dev), never the
// state directory (the API token, CA and private keys) nor one holding or inside it, and for a
// Site created through the API only the manifest directory and the --import-root directories.
// Paths are compared canonically at every compile, since the data plane follows symlinks inside
// a root and a directory can be re-pointed between compiles.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "controller/api/site.h"
#include "controller/certs/import_path_policy.h"

namespace siteplane::compile {

class SiteRoots {
 public:
  // `importPolicy` null: no restriction by origin (tests, a compiler without an API).
  SiteRoots(std::filesystem::path manifestsDir, std::vector<std::filesystem::path> protectedDirs,
            std::shared_ptr<const certs::ImportPathPolicy> importPolicy);

  // The directory spec.root names: a relative root (objects created through the API; manifest
  // files resolve their own) against the manifest directory.
  std::filesystem::path resolve(const api::Site& site) const;

  // Why each site's root may not be served, in input order ("" when it may, or has no root).
  std::vector<std::string> refusals(const std::vector<api::Site>& sites) const;

 private:
  std::string refuse(const api::Site& site,
                     const std::vector<std::filesystem::path>& protectedDirs) const;

  const std::filesystem::path manifestsDir_;
  const std::vector<std::filesystem::path> protectedDirs_;
  const std::shared_ptr<const certs::ImportPathPolicy> importPolicy_;
};

}  // namespace siteplane::compile

#pragma once

// The kubeconfig `siteplane serve` writes (<state>/kubeconfig) — or any kubeconfig with a token
// user — reduced to what the CLI needs: server URL, CA data, bearer token, default namespace.
//
// Which file: --kubeconfig if given; else $KUBECONFIG (its first entry when it lists several);
// else <state>/kubeconfig when --state is given; else ./.siteplane/kubeconfig (what
// `siteplane serve --state .siteplane` writes in the current directory).

#include <filesystem>
#include <string>

#include "common/status.h"

namespace siteplane::cli {

struct Kubeconfig {
  std::filesystem::path path;
  std::string server;     // "https://127.0.0.1:6443"
  std::string caPem;      // decoded certificate-authority-data, or the certificate-authority file
  std::string token;      // bearer token; may be empty (then the server answers 401)
  std::string nameSpace;  // the current context's namespace, "default" when unset

  // Reads the current context of the file. Errors name the file and the missing or bad field.
  static Result<Kubeconfig> load(const std::filesystem::path& path);
};

// Applies the search order above. `explicitPath` and `stateDir` may be empty.
std::filesystem::path resolveKubeconfigPath(const std::string& explicitPath,
                                            const std::string& stateDir);

}  // namespace siteplane::cli

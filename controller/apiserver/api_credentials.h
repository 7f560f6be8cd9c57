#pragma once

// What a client needs to trust and use the API, kept in <state>/api/ and created on first start:
//   token        a random bearer token (0600)
//   ca.crt/.key  a self-signed CA siteplane issues for itself (key 0600)
//   server.crt/.key  the serving certificate for 127.0.0.1, ::1 and localhost (plus the listen
//                host), signed by that CA; re-issued when missing, expiring within 30 days or not
//                covering the listen host
// and <state>/kubeconfig (0600) pointing kubectl at the server with the CA data and the token.

#include <chrono>
#include <filesystem>
#include <string>

#include "common/status.h"

namespace siteplane::apiserver {

struct ApiCredentials {
  std::string token;
  std::string caPem;
  std::string certificatePem;  // serving certificate followed by the CA
  std::string privateKeyPem;   // serving key; never logged

  // Loads the credentials under `stateDir`, creating what is missing. `host` is the listen
  // address's host ("127.0.0.1"); the serving certificate covers it.
  static Result<ApiCredentials> loadOrCreate(const std::filesystem::path& stateDir,
                                             const std::string& host,
                                             std::chrono::system_clock::time_point now);
};

// Writes <stateDir>/kubeconfig (0600, atomically) for `serverUrl` ("https://127.0.0.1:6443").
// Returns its path.
Result<std::filesystem::path> writeKubeconfig(const std::filesystem::path& stateDir,
                                              const std::string& serverUrl,
                                              const ApiCredentials& credentials);

// Writes `content` to `path` with mode 0600 via a temporary file, fsync and rename, so a reader
// sees the old or the new file, never a partial one.
Status writePrivateFile(const std::filesystem::path& path, const std::string& content);

}  // namespace siteplane::apiserver

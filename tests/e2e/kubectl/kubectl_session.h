#pragma once

// The real kubectl (and curl) against a real `siteplane serve` process: the serve fixture plus
// the kubeconfig, token and CA serve writes into its state directory, and the repository's own
// example manifests copied with their ports moved to free ones.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {

// A started `siteplane serve` with an empty manifest directory (kubectl owns what it applies).
class KubectlSession {
 public:
  KubectlSession() { server_.start(); }

  Server& server() { return server_; }

  // kubectl with serve's kubeconfig and a private discovery cache (tests run in parallel).
  CommandResult kubectl(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  std::vector<std::string> kubectlArgv(const std::vector<std::string>& args) const;

  // kubectl apply -f `manifest`, then waits until `binding` is Programmed; false (with the
  // output in the log) when either fails.
  bool applyAndWaitProgrammed(const std::filesystem::path& manifest, const std::string& binding);

  // The API's https://127.0.0.1:PORT as serve wrote it into the kubeconfig.
  std::string apiUrl() const;
  std::string token() const;

  struct HttpReply {
    int code = 0;  // 0: no HTTP answer at all
    std::string body;
  };
  // curl against the API, verified against serve's own CA; `args` are extra curl arguments
  // (method, headers, body) and `path` starts with '/'.
  HttpReply api(const std::string& path, const std::vector<std::string>& args = {},
                bool withToken = true) const;

 private:
  Server server_;
};

// The repository's manifests/*.yaml copied into `to`, every binding port replaced by a
// freePort() (whole numbers only, so comments and bindingInformation follow) and nothing else
// changed: relative paths such as `root: sites/...` stay as the user wrote them.
struct ExampleManifests {
  std::filesystem::path dir;
  std::map<int, int> ports;  // the example's port -> the port this test uses
  int port(int example) const;
};
ExampleManifests copyExampleManifests(const std::filesystem::path& to);

// True when nothing accepts TCP connections on 127.0.0.1:port.
bool portClosed(int port);

}  // namespace siteplane::testing

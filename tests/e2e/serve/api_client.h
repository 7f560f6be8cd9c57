#pragma once

// The API of a started `siteplane serve`, as its log and state directory describe it: curl with
// the server's CA and bearer token, as an API user would.

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {

class ApiClient {
 public:
  explicit ApiClient(const Server& server)
      : caFile_((server.state() / "api" / "ca.crt").string()),
        token_(readFile(server.state() / "api" / "token")),
        bodyFile_(server.dir().path() / "api-body") {
    const std::string log = server.log();
    auto at = log.find("api_listening url=");
    if (at == std::string::npos) throw std::runtime_error("no api_listening line:\n" + log);
    at += 18;
    url_ = log.substr(at, log.find(' ', at) - at);
    while (!token_.empty() && std::isspace(static_cast<unsigned char>(token_.back())))
      token_.pop_back();
  }

  struct Reply {
    int status = 0;  // 0: no HTTP answer (connection refused or reset)
    std::string body;
  };

  // One request; a body is sent from a file, so it may be any size.
  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& contentType = "application/json") const {
    std::vector<std::string> argv = {"curl",       "-s",
                                     "--max-time", "30",
                                     "--cacert",   caFile_,
                                     "-X",         method,
                                     "-w",         "\n%{http_code}",
                                     "-H",         "Authorization: Bearer " + token_};
    if (!body.empty()) {
      std::ofstream(bodyFile_, std::ios::binary | std::ios::trunc) << body;
      argv.insert(argv.end(), {"-H", "Content-Type: " + contentType, "--data-binary",
                               "@" + bodyFile_.string()});
    }
    argv.push_back(url_ + path);
    auto result = run(argv, "", std::chrono::seconds(40));
    auto newline = result.out.rfind('\n');
    if (result.exitCode != 0 || newline == std::string::npos) return {0, result.out + result.err};
    return {std::atoi(result.out.c_str() + newline + 1), result.out.substr(0, newline)};
  }

  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }
  const std::string& caFile() const { return caFile_; }

 private:
  std::string caFile_;
  std::string token_;
  std::filesystem::path bodyFile_;
  std::string url_;
};

inline const std::string kApiPrefix = "/apis/siteplane.io/v1alpha1/namespaces/default/";

}  // namespace siteplane::testing

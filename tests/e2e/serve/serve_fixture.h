#pragma once

// `siteplane serve` as a user runs it: the real binary on 127.0.0.1, a manifest directory the test
// writes, a state directory, curl and openssl as clients.

#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/test_support.h"

namespace siteplane::testing {

using nlohmann::json;
using std::chrono::seconds;

// Generous: tests assert what is served, the deadline only bounds a hang.
inline constexpr std::chrono::milliseconds kDeadline{20000};

// The compile-time build path: ctest runs tests from their own folders.
inline std::string siteplaneBinary() {
  return (std::filesystem::path(SITEPLANE_BINARY_DIR) / "siteplane").string();
}

inline std::string siteYaml(const std::string& name, const std::string& root) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: " + name +
         "\nspec:\n  root: " + root + "\n";
}

inline std::string bindingYaml(const std::string& name, const std::string& site,
                               const std::string& protocol, int port,
                               const std::string& hostName = "",
                               const std::string& certificate = "") {
  std::string out = "apiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: " + name +
                    "\nspec:\n  siteRef:\n    name: " + site + "\n  protocol: " + protocol +
                    "\n  address: 127.0.0.1\n  port: " + std::to_string(port) + "\n";
  if (!hostName.empty()) out += "  hostName: \"" + hostName + "\"\n";
  if (!certificate.empty()) out += "  certificateRef:\n    name: " + certificate + "\n";
  return out;
}

inline std::string selfSignedIssuerYaml(const std::string& name = "self") {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Issuer\nmetadata:\n  name: " + name +
         "\nspec:\n  selfSigned: {}\n";
}

inline std::string importedCertificateYaml(const std::string& name, const TestCertificate& pem) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Certificate\nmetadata:\n  name: " + name +
         "\nspec:\n  source:\n    certificateFile: " + pem.cert.string() +
         "\n    privateKeyFile: " + pem.key.string() + "\n";
}

inline std::string documents(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += "---\n";
    out += part;
  }
  return out;
}

// GET over plain http: "<status> <body>", or "" when nothing answers.
inline std::string httpGet(int port, const std::string& host = "") {
  std::vector<std::string> argv = {"curl", "-s", "--max-time", "5", "-w", " %{http_code}"};
  if (!host.empty()) argv.insert(argv.end(), {"-H", "Host: " + host});
  argv.push_back("http://127.0.0.1:" + std::to_string(port) + "/");
  auto result = run(argv, "", seconds(10));
  if (result.exitCode != 0) return "";
  return result.out;
}

// The SHA-1 thumbprint (upper-case hex) of the certificate served for `sni` on 127.0.0.1:port,
// "" when the handshake fails.
inline std::string servedThumbprint(int port, const std::string& sni) {
  auto handshake = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                        "-servername", sni},
                       "", seconds(10));
  auto begin = handshake.out.find("-----BEGIN CERTIFICATE-----");
  auto end = handshake.out.find("-----END CERTIFICATE-----");
  if (begin == std::string::npos || end == std::string::npos) return "";
  std::string pem = handshake.out.substr(begin, end + 25 - begin) + "\n";
  auto fingerprint = run({"openssl", "x509", "-noout", "-fingerprint", "-sha1"}, pem);
  std::string out;
  for (char c : fingerprint.out.substr(fingerprint.out.find('=') + 1))
    if (std::isxdigit(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

class Server {
 public:
  Server() {
    std::filesystem::create_directories(manifests());
    std::filesystem::create_directories(root());
    std::ofstream(root() / "index.html") << "hello from siteplane\n";
  }

  std::filesystem::path manifests() const { return dir_.path() / "manifests"; }
  std::filesystem::path state() const { return dir_.path() / "state"; }
  std::filesystem::path root() const { return dir_.path() / "www"; }
  const TempDir& dir() const { return dir_; }

  // Writes a manifest atomically (temp file + rename, as editors and `kubectl cp` do).
  void write(const std::string& relative, const std::string& content) const {
    auto path = manifests() / relative;
    std::filesystem::create_directories(path.parent_path());
    auto temp = path.parent_path() / ("." + path.filename().string() + ".tmp");
    std::ofstream(temp) << content;
    std::filesystem::rename(temp, path);
  }
  void remove(const std::string& relative) const { std::filesystem::remove(manifests() / relative); }

  void start() {
    process_ = std::make_unique<Process>(std::vector<std::string>{
        siteplaneBinary(), "serve", "--manifests", manifests().string(), "--state",
        state().string(), "--workers", "1", "--access-log-format", "off", "--drain-seconds", "1",
        "--api-listen", "127.0.0.1:0"});
    if (!process_->waitForOutput("serve_started", kDeadline))
      throw std::runtime_error("siteplane serve did not start:\n" + process_->output());
  }
  Process& process() { return *process_; }
  std::string log() const { return process_ ? process_->output() : ""; }

  // The stored object (as persisted in the state directory), nullopt when absent.
  std::optional<json> object(const std::string& kind, const std::string& name) const {
    auto path = state() / "objects" / kind / "default" / (name + ".json");
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
      return json::parse(in);
    } catch (const std::exception&) {
      return std::nullopt;  // replaced while reading: the caller polls again
    }
  }

  // The condition of that type on a stored object: "<status>/<reason>", "" when absent.
  std::string condition(const std::string& kind, const std::string& name,
                        const std::string& type) const {
    auto found = object(kind, name);
    if (!found) return "";
    for (const auto& item : found->value("/status/conditions"_json_pointer, json::array()))
      if (item.value("type", "") == type)
        return item.value("status", "") + "/" + item.value("reason", "");
    return "";
  }

  std::string statusField(const std::string& kind, const std::string& name,
                          const std::string& field) const {
    auto found = object(kind, name);
    if (!found || !found->contains("status")) return "";
    const auto& value = (*found)["status"].value(field, json());
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "";
    return value.dump();
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

// A socket listening on 127.0.0.1:port without SO_REUSEPORT, so the server cannot bind it.
class PortBlocker {
 public:
  explicit PortBlocker(int port);
  ~PortBlocker();
  PortBlocker(const PortBlocker&) = delete;
  PortBlocker& operator=(const PortBlocker&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace siteplane::testing

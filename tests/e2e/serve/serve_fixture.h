#pragma once

// `siteplane serve` as a user runs it: the real binary on 127.0.0.1, a manifest directory the test
// writes, a state directory, curl and openssl as clients.

#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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

inline std::string caIssuerYaml(const std::string& name, const std::string& caCertificate) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Issuer\nmetadata:\n  name: " + name +
         "\nspec:\n  ca:\n    certificateRef:\n      name: " + caCertificate + "\n";
}

// A Certificate issued by `issuer`; `extraSpec` is appended to spec (two-space indented lines).
inline std::string issuedCertificateYaml(const std::string& name, const std::string& issuer,
                                         const std::vector<std::string>& dnsNames,
                                         const std::string& extraSpec = "") {
  std::string names;
  // Quoted: a bare *.example.test is a YAML alias.
  for (const auto& dns : dnsNames) names += (names.empty() ? "\"" : ", \"") + dns + "\"";
  return "apiVersion: siteplane.io/v1alpha1\nkind: Certificate\nmetadata:\n  name: " + name +
         "\nspec:\n  dnsNames: [" + names + "]\n  issuerRef:\n    name: " + issuer + "\n" +
         extraSpec;
}

// A root CA Certificate from a self-signed Issuer, with CA-only usages.
inline std::string caCertificateYaml(const std::string& name, const std::string& issuer) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Certificate\nmetadata:\n  name: " + name +
         "\nspec:\n  commonName: " + name +
         " root\n  isCA: true\n"
         "  usages: [digital signature, cert sign, crl sign]\n  issuerRef:\n    name: " +
         issuer + "\n";
}

// What a test checks of one certificate, from its PEM with the openssl CLI.
struct CertificateFacts {
  std::string thumbprint;      // SHA-1, upper-case hex, as status.thumbprint
  std::string subjectAltName;  // "DNS:a.example.test, DNS:b.example.test"
  std::string publicKeyHash;   // SHA-256 of the SubjectPublicKeyInfo PEM: same key, same hash
};

inline CertificateFacts factsOf(const std::string& pem) {
  CertificateFacts facts;
  auto fingerprint = run({"openssl", "x509", "-noout", "-fingerprint", "-sha1"}, pem);
  for (char c : fingerprint.out.substr(fingerprint.out.find('=') + 1))
    if (std::isxdigit(static_cast<unsigned char>(c)))
      facts.thumbprint += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto san = run({"openssl", "x509", "-noout", "-ext", "subjectAltName"}, pem);
  auto newline = san.out.find('\n');
  if (newline != std::string::npos) {
    facts.subjectAltName = san.out.substr(newline + 1);
    facts.subjectAltName.erase(0, facts.subjectAltName.find_first_not_of(" "));
    while (!facts.subjectAltName.empty() &&
           std::isspace(static_cast<unsigned char>(facts.subjectAltName.back())))
      facts.subjectAltName.pop_back();
  }
  auto publicKey = run({"openssl", "x509", "-noout", "-pubkey"}, pem);
  facts.publicKeyHash = run({"sha256sum"}, publicKey.out).out.substr(0, 64);
  return facts;
}

// The chain served for `sni` on 127.0.0.1:port, leaf first, one PEM each; empty when the
// handshake fails.
inline std::vector<std::string> servedChain(int port, const std::string& sni) {
  auto handshake = run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                        "-servername", sni, "-showcerts"},
                       "", seconds(10));
  std::vector<std::string> chain;
  const std::string begin = "-----BEGIN CERTIFICATE-----";
  const std::string end = "-----END CERTIFICATE-----";
  for (size_t at = handshake.out.find(begin); at != std::string::npos;
       at = handshake.out.find(begin, at + 1)) {
    size_t stop = handshake.out.find(end, at);
    if (stop == std::string::npos) break;
    chain.push_back(handshake.out.substr(at, stop + end.size() - at) + "\n");
  }
  return chain;
}

// The SHA-1 thumbprint (upper-case hex) of the certificate served for `sni` on 127.0.0.1:port,
// "" when the handshake fails.
inline std::string servedThumbprint(int port, const std::string& sni) {
  auto chain = servedChain(port, sni);
  return chain.empty() ? std::string() : factsOf(chain.front()).thumbprint;
}

// With the openssl CLI's `ca` command (the only one of OpenSSL 3.0 that takes explicit dates):
// an ECDSA key and a certificate for `dnsNames` valid from `notBefore` to `notAfter`
// (YYYYMMDDHHMMSSZ), signed by `ca` or self-signed. Writes <dir>/<name>.key and <dir>/<name>.crt.
TestCertificate makeDatedCertificate(const std::filesystem::path& dir, const std::string& name,
                                     const std::vector<std::string>& dnsNames,
                                     const TestCertificate* ca, const std::string& notBefore,
                                     const std::string& notAfter, bool isCA = false);

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
  void remove(const std::string& relative) const {
    std::filesystem::remove(manifests() / relative);
  }

  // `extra`: further `serve` flags. The test's directory is an --import-root (tests import
  // certificates they make next to the manifests) unless `importTestDir` is false; the state
  // directory inside it stays out of reach either way.
  void start(const std::vector<std::string>& extra = {}, bool importTestDir = true) {
    std::vector<std::string> argv{siteplaneBinary(),
                                  "serve",
                                  "--manifests",
                                  manifests().string(),
                                  "--state",
                                  state().string(),
                                  "--workers",
                                  "1",
                                  "--access-log-format",
                                  "off",
                                  "--drain-seconds",
                                  "1",
                                  "--api-listen",
                                  "127.0.0.1:0"};
    if (importTestDir) argv.insert(argv.end(), {"--import-root", dir_.path().string()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Process>(argv);
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

  // Every stored object of `kind` in the default namespace, by name.
  std::map<std::string, json> objects(const std::string& kind) const {
    std::map<std::string, json> out;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(state() / "objects" / kind / "default", ec)) {
      if (entry.path().extension() != ".json") continue;
      auto parsed = json::parse(readFile(entry.path()), nullptr, false);
      if (parsed.is_object()) out[entry.path().stem().string()] = std::move(parsed);
    }
    return out;
  }

  // The message of a condition on a stored object, "" when absent.
  std::string conditionMessage(const std::string& kind, const std::string& name,
                               const std::string& type) const {
    auto found = object(kind, name);
    if (!found) return "";
    for (const auto& item : found->value("/status/conditions"_json_pointer, json::array()))
      if (item.value("type", "") == type) return item.value("message", "");
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

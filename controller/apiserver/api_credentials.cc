#include "controller/apiserver/api_credentials.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "common/logging.h"
#include "controller/certs/certificate.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/issuance.h"
#include "controller/certs/private_key.h"
#include "controller/manifest/yaml_document.h"

namespace siteplane::apiserver {
namespace fs = std::filesystem;
namespace {

constexpr auto kCaValidity = std::chrono::hours(24 * 365 * 10);
constexpr auto kServingValidity = std::chrono::hours(24 * 365);
constexpr auto kRenewBefore = std::chrono::hours(24 * 30);

std::shared_ptr<spdlog::logger> log() { return logger("controller.apiserver"); }

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<std::string>::error("cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Result<std::string> loadOrCreateToken(const fs::path& path) {
  if (fs::exists(path)) {
    auto token = readFile(path);
    if (!token) return token;
    std::string value = *token;
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.size() >= 32) return value;
    log()->warn("api_token_replaced path={} reason=too_short", path.string());
  }
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Result<std::string>::error("no randomness for the API token");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char byte : bytes) {
    token.push_back(kHex[byte >> 4]);
    token.push_back(kHex[byte & 15]);
  }
  Status written = writePrivateFile(path, token + "\n");
  if (!written) return written;
  log()->info("api_token_created path={}", path.string());
  return token;
}

struct Pair {
  certs::Certificate certificate;
  certs::PrivateKey key;
};

std::optional<Pair> loadPair(const fs::path& certFile, const fs::path& keyFile) {
  if (!fs::exists(certFile) || !fs::exists(keyFile)) return std::nullopt;
  auto certPem = readFile(certFile);
  auto keyPem = readFile(keyFile);
  if (!certPem || !keyPem) return std::nullopt;
  auto certificate = certs::Certificate::fromPem(*certPem);
  auto key = certs::PrivateKey::fromPem(*keyPem);
  if (!certificate || !key || !key->matches(*certificate)) {
    log()->warn("api_certificate_unreadable path={}", certFile.string());
    return std::nullopt;
  }
  return Pair{std::move(certificate).value(), std::move(key).value()};
}

bool covers(const certs::Certificate& certificate, const std::string& host) {
  const auto& info = certificate.info();
  for (const auto& ip : info.ipAddresses) {
    if (ip == host) return true;
  }
  for (const auto& name : info.dnsNames) {
    if (name == host) return true;
  }
  return false;
}

}  // namespace

Status writePrivateFile(const fs::path& path, const std::string& content) {
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  if (error)
    return Status::error("cannot create " + path.parent_path().string() + ": " + error.message());
  fs::path temporary = path;
  temporary += ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::error("cannot write " + temporary.string() + ": " + std::strerror(errno));
  // An existing temporary file keeps its old mode through O_CREAT: force 0600.
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t offset = 0;
  while (ok && offset < content.size()) {
    ssize_t n = ::write(fd, content.data() + offset, content.size() - offset);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) offset += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int savedErrno = errno;
  ::close(fd);
  if (!ok || std::rename(temporary.c_str(), path.c_str()) != 0) {
    if (ok) savedErrno = errno;
    ::unlink(temporary.c_str());
    return Status::error("cannot write " + path.string() + ": " + std::strerror(savedErrno));
  }
  return Status::ok();
}

Result<ApiCredentials> ApiCredentials::loadOrCreate(const fs::path& stateDir,
                                                    const std::string& host,
                                                    std::chrono::system_clock::time_point now) {
  const fs::path dir = stateDir / "api";
  ApiCredentials credentials;
  auto token = loadOrCreateToken(dir / "token");
  if (!token) return token.status();
  credentials.token = std::move(token).value();

  std::optional<Pair> ca = loadPair(dir / "ca.crt", dir / "ca.key");
  bool newCa = false;
  if (!ca || ca->certificate.info().notAfter - kRenewBefore < now) {
    auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa);
    if (!key) return key.status().withContext("API CA key");
    certs::CertificateTemplate request;
    request.commonName = "siteplane API CA";
    request.isCA = true;
    request.usages = {certs::Usage::kDigitalSignature, certs::Usage::kCertSign,
                      certs::Usage::kCrlSign};
    request.validFor(now - std::chrono::minutes(5), kCaValidity);
    auto certificate = certs::issueSelfSigned(request, *key);
    if (!certificate) return certificate.status().withContext("API CA certificate");
    Status keyWritten = writePrivateFile(dir / "ca.key", key->toPem());
    if (!keyWritten) return keyWritten;
    Status certWritten = writePrivateFile(dir / "ca.crt", certificate->toPem());
    if (!certWritten) return certWritten;
    ca = Pair{std::move(certificate).value(), std::move(key).value()};
    newCa = true;
    log()->info("api_ca_created path={}", (dir / "ca.crt").string());
  }
  credentials.caPem = ca->certificate.toPem();

  std::optional<Pair> serving =
      newCa ? std::nullopt : loadPair(dir / "server.crt", dir / "server.key");
  if (!serving || serving->certificate.info().notAfter - kRenewBefore < now ||
      !covers(serving->certificate, host)) {
    auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa);
    if (!key) return key.status().withContext("API serving key");
    certs::CertificateTemplate request;
    request.commonName = "siteplane API";
    request.dnsNames = {"localhost"};
    request.ipAddresses = {"127.0.0.1", "::1"};
    if (certs::isIpLiteral(host)) {
      if (host != "127.0.0.1" && host != "::1") request.ipAddresses.push_back(host);
    } else if (host != "localhost" && certs::isValidDnsName(host)) {
      request.dnsNames.push_back(host);
    }
    request.usages = {certs::Usage::kDigitalSignature, certs::Usage::kKeyEncipherment,
                      certs::Usage::kServerAuth};
    request.validFor(now - std::chrono::minutes(5), kServingValidity);
    auto certificate =
        certs::issueSignedBy(request, key->publicKey(), ca->certificate, ca->key, now);
    if (!certificate) return certificate.status().withContext("API serving certificate");
    Status keyWritten = writePrivateFile(dir / "server.key", key->toPem());
    if (!keyWritten) return keyWritten;
    Status certWritten = writePrivateFile(dir / "server.crt", certificate->toPem());
    if (!certWritten) return certWritten;
    serving = Pair{std::move(certificate).value(), std::move(key).value()};
    log()->info("api_certificate_issued path={} thumbprint={}", (dir / "server.crt").string(),
                serving->certificate.info().thumbprint);
  }
  credentials.certificatePem = serving->certificate.toPem() + credentials.caPem;
  credentials.privateKeyPem = serving->key.toPem();
  return credentials;
}

Result<fs::path> writeKubeconfig(const fs::path& stateDir, const std::string& serverUrl,
                                 const ApiCredentials& credentials) {
  nlohmann::json config = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters",
       {{{"name", "siteplane"},
         {"cluster",
          {{"server", serverUrl},
           {"certificate-authority-data", base64Encode(credentials.caPem)}}}}}},
      {"users", {{{"name", "siteplane"}, {"user", {{"token", credentials.token}}}}}},
      {"contexts",
       {{{"name", "siteplane"},
         {"context",
          {{"cluster", "siteplane"}, {"user", "siteplane"}, {"namespace", "default"}}}}}},
      {"current-context", "siteplane"},
      {"preferences", nlohmann::json::object()}};
  fs::path path = stateDir / "kubeconfig";
  Status written = writePrivateFile(path, manifest::emitYaml(config));
  if (!written) return written;
  return path;
}

}  // namespace siteplane::apiserver

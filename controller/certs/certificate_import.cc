#include "controller/certs/certificate_import.h"

#include <openssl/err.h>
#include <openssl/provider.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/logging.h"
#include "controller/certs/openssl_util.h"

namespace siteplane::certs {
namespace {

constexpr std::uintmax_t kMaxFileSize = 16 * 1024 * 1024;

// OpenSSL 3 moved RC2, RC4 and single DES into the "legacy" provider, which is not loaded by
// default. PKCS#12 files made by OpenSSL 1.x, by `openssl pkcs12 -export -legacy` and by older
// Windows/IIS exports encrypt their certificate bag with RC2-40-CBC (or 3DES), so reading them
// needs it. It is loaded on demand, once, for the life of the process: only when such a file
// appears, because it makes weak algorithms available to the whole process. The default provider
// is loaded explicitly alongside it: once any provider is loaded explicitly, OpenSSL stops loading
// the default one implicitly.
//
// The providers are unloaded by a static destructor at exit. It is registered after OpenSSL's own
// atexit cleanup (OpenSSL initialised itself before any PKCS#12 file could be read), so it runs
// first, while OpenSSL is still up.
class LegacyProviders {
 public:
  LegacyProviders()
      : defaults_(OSSL_PROVIDER_load(nullptr, "default")),
        legacy_(OSSL_PROVIDER_load(nullptr, "legacy")) {
    logger("controller.certs")->info("event=legacy_provider_load loaded={}", loaded());
    ERR_clear_error();
  }
  ~LegacyProviders() {
    if (legacy_) OSSL_PROVIDER_unload(legacy_);
    if (defaults_) OSSL_PROVIDER_unload(defaults_);
  }
  LegacyProviders(const LegacyProviders&) = delete;
  LegacyProviders& operator=(const LegacyProviders&) = delete;
  bool loaded() const { return defaults_ != nullptr && legacy_ != nullptr; }

 private:
  OSSL_PROVIDER* defaults_;
  OSSL_PROVIDER* legacy_;
};

bool loadLegacyProvider() {
  static LegacyProviders providers;  // thread-safe initialisation, once per process
  return providers.loaded();
}

struct Pkcs12Contents {
  detail::EvpPkeyPtr key;
  detail::X509Ptr certificate;
  detail::X509StackPtr extra;
};

Result<Pkcs12Contents> parsePkcs12(PKCS12* p12, const char* password) {
  Pkcs12Contents contents;
  EVP_PKEY* key = nullptr;
  X509* certificate = nullptr;
  STACK_OF(X509)* extra = nullptr;
  if (PKCS12_parse(p12, password, &key, &certificate, &extra) != 1) {
    return detail::failure("cannot decrypt the PKCS#12 contents");
  }
  contents.key.reset(key);
  contents.certificate.reset(certificate);
  contents.extra.reset(extra);
  return contents;
}

Result<CertificateBundle> assemble(std::vector<Certificate> certificates, PrivateKey key) {
  auto chain = orderChain(std::move(certificates), &key);
  if (!chain) return chain.status();
  return CertificateBundle{std::move(chain).value(), std::move(key)};
}

}  // namespace

Result<std::string> readSmallFile(const std::filesystem::path& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  if (error) return Result<std::string>::error(path.string() + ": cannot read: " + error.message());
  if (size > kMaxFileSize) {
    return Result<std::string>::error(path.string() +
                                      ": larger than 16 MiB, not a certificate or key file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Result<std::string>::error(path.string() + ": cannot open: " + std::strerror(errno));
  std::string content(static_cast<size_t>(size), '\0');
  in.read(content.data(), static_cast<std::streamsize>(size));
  content.resize(static_cast<size_t>(in.gcount()));
  return content;
}

Result<CertificateBundle> importPem(std::string_view certificatePem,
                                    std::string_view privateKeyPem) {
  auto certificates = Certificate::chainFromPem(certificatePem);
  if (!certificates) return certificates.status().withContext("certificate");
  auto key = PrivateKey::fromPem(privateKeyPem);
  if (!key) return key.status().withContext("private key");
  return assemble(std::move(certificates).value(), std::move(key).value());
}

Result<CertificateBundle> importPemFiles(const std::filesystem::path& certificateFile,
                                         const std::filesystem::path& privateKeyFile,
                                         const FileReader& read) {
  auto certificatePem = read(certificateFile);
  if (!certificatePem) return certificatePem.status();
  auto keyPem = read(privateKeyFile);
  if (!keyPem) return keyPem.status();
  auto certificates = Certificate::chainFromPem(*certificatePem);
  if (!certificates) return certificates.status().withContext(certificateFile.string());
  auto key = PrivateKey::fromPem(*keyPem);
  if (!key) return key.status().withContext(privateKeyFile.string());
  auto bundle = assemble(std::move(certificates).value(), std::move(key).value());
  if (!bundle) {
    return bundle.status().withContext(certificateFile.string() + " with key " +
                                       privateKeyFile.string());
  }
  return bundle;
}

Result<CertificateBundle> importPkcs12(std::string_view der,
                                       const std::optional<std::string>& password) {
  ERR_clear_error();
  auto bio = detail::readBio(der);
  detail::Pkcs12Ptr p12(d2i_PKCS12_bio(bio.get(), nullptr));
  if (!p12) return detail::failure("not a PKCS#12 (.pfx/.p12) file");

  // Which password unlocks the file: the MAC check says so without decrypting anything, and tells a
  // wrong password apart from a damaged file.
  std::vector<const char*> candidates;
  if (password) {
    candidates = {password->c_str()};
  } else {
    candidates = {"", nullptr};
  }
  const char* unlocking = candidates.front();
  if (PKCS12_mac_present(p12.get())) {
    bool verified = false;
    for (const char* candidate : candidates) {
      if (PKCS12_verify_mac(p12.get(), candidate, candidate ? -1 : 0) == 1) {
        unlocking = candidate;
        verified = true;
        break;
      }
    }
    ERR_clear_error();
    if (!verified) {
      return Result<CertificateBundle>::error(
          password ? "wrong password for the PKCS#12 file (its integrity check failed)"
                   : "the PKCS#12 file is password-protected and no password was given");
    }
  }

  auto contents = parsePkcs12(p12.get(), unlocking);
  if (!contents) {
    // Most likely RC2/3DES encryption from an older exporter; retry once with the legacy provider.
    if (!loadLegacyProvider()) {
      return contents.status().withContext(
          "the OpenSSL legacy provider (for RC2-encrypted files) is unavailable");
    }
    contents = parsePkcs12(p12.get(), unlocking);
    if (!contents) return contents.status();
  }
  if (!contents->key)
    return Result<CertificateBundle>::error("the PKCS#12 file holds no private key");

  std::vector<Certificate> certificates;
  if (contents->certificate)
    certificates.push_back(Certificate::fromNative(contents->certificate.get()));
  for (int i = 0; contents->extra && i < sk_X509_num(contents->extra.get()); ++i) {
    certificates.push_back(Certificate::fromNative(sk_X509_value(contents->extra.get(), i)));
  }
  if (certificates.empty())
    return Result<CertificateBundle>::error("the PKCS#12 file holds no certificate");

  auto key = PrivateKey::fromNative(contents->key.get());
  if (!key) return key.status().withContext("PKCS#12 private key");
  return assemble(std::move(certificates), std::move(key).value());
}

Result<CertificateBundle> importPkcs12File(const std::filesystem::path& file,
                                           const std::optional<std::filesystem::path>& passwordFile,
                                           const FileReader& read) {
  std::optional<std::string> password;
  if (passwordFile) {
    auto content = read(*passwordFile);
    if (!content) return content.status();
    std::string& text = *content;
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    password = std::move(text);
  }
  auto der = read(file);
  if (!der) return der.status();
  auto bundle = importPkcs12(*der, password);
  if (!bundle) {
    return bundle.status().withContext(
        file.string() + (passwordFile ? " (password from " + passwordFile->string() + ")" : ""));
  }
  return bundle;
}

}  // namespace siteplane::certs

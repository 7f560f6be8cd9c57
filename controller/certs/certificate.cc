#include "controller/certs/certificate.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "controller/certs/openssl_util.h"

namespace siteplane::certs {
namespace {

struct OpensslFree {
  void operator()(void* data) const { OPENSSL_free(data); }
};

std::string nameToString(const X509_NAME* name) {
  auto bio = detail::writeBio();
  // RFC 2253 but keeping UTF-8 as UTF-8: status is read by people, and "\C3\A9" helps nobody.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return detail::bioContents(bio.get());
}

std::string asn1StringToUtf8(const ASN1_STRING* value) {
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, value);
  if (length < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return out;
}

std::string commonNameOf(const X509_NAME* name) {
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  return asn1StringToUtf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
}

std::string ipToString(const unsigned char* bytes, int length) {
  char text[INET6_ADDRSTRLEN] = {};
  if (length == 4) return inet_ntop(AF_INET, bytes, text, sizeof text) ? text : "";
  if (length == 16) return inet_ntop(AF_INET6, bytes, text, sizeof text) ? text : "";
  return {};
}

std::string digestHex(X509* x509, const EVP_MD* digest) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(x509, digest, md, &length) != 1) return {};
  return detail::toHex(md, length);
}

std::string serialHex(X509* x509) {
  detail::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), nullptr));
  if (!serial) return {};
  std::unique_ptr<char, OpensslFree> hex(BN_bn2hex(serial.get()));
  return hex ? std::string(hex.get()) : std::string();
}

void addSubjectAltNames(X509* x509, CertificateInfo& info) {
  detail::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x509, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      info.dnsNames.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                 static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      std::string text = ipToString(ASN1_STRING_get0_data(ip), ASN1_STRING_length(ip));
      if (!text.empty()) info.ipAddresses.push_back(std::move(text));
    }
  }
}

void addKeyUsages(X509* x509, CertificateInfo& info) {
  if (!(X509_get_extension_flags(x509) & EXFLAG_KUSAGE)) return;
  uint32_t bits = X509_get_key_usage(x509);
  static constexpr std::pair<uint32_t, const char*> kBits[] = {
      {KU_DIGITAL_SIGNATURE, "digital signature"},
      {KU_NON_REPUDIATION, "content commitment"},
      {KU_KEY_ENCIPHERMENT, "key encipherment"},
      {KU_DATA_ENCIPHERMENT, "data encipherment"},
      {KU_KEY_AGREEMENT, "key agreement"},
      {KU_KEY_CERT_SIGN, "cert sign"},
      {KU_CRL_SIGN, "crl sign"},
      {KU_ENCIPHER_ONLY, "encipher only"},
      {KU_DECIPHER_ONLY, "decipher only"}};
  for (const auto& [bit, name] : kBits) {
    if (bits & bit) info.keyUsages.emplace_back(name);
  }
}

void addExtendedKeyUsages(X509* x509, CertificateInfo& info) {
  detail::ExtendedKeyUsagePtr usages(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(x509, NID_ext_key_usage, nullptr, nullptr)));
  if (!usages) return;
  for (int i = 0; i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
    const ASN1_OBJECT* object = sk_ASN1_OBJECT_value(usages.get(), i);
    switch (OBJ_obj2nid(object)) {
      case NID_server_auth:
        info.extendedKeyUsages.emplace_back("server auth");
        break;
      case NID_client_auth:
        info.extendedKeyUsages.emplace_back("client auth");
        break;
      case NID_code_sign:
        info.extendedKeyUsages.emplace_back("code signing");
        break;
      case NID_email_protect:
        info.extendedKeyUsages.emplace_back("email protection");
        break;
      case NID_time_stamp:
        info.extendedKeyUsages.emplace_back("time stamping");
        break;
      case NID_OCSP_sign:
        info.extendedKeyUsages.emplace_back("ocsp signing");
        break;
      case NID_anyExtendedKeyUsage:
        info.extendedKeyUsages.emplace_back("any");
        break;
      default: {
        char oid[128] = {};
        OBJ_obj2txt(oid, sizeof oid, object, 1);
        info.extendedKeyUsages.emplace_back(oid);
      }
    }
  }
}

std::shared_ptr<const CertificateInfo> describe(X509* x509) {
  auto info = std::make_shared<CertificateInfo>();
  info->thumbprint = digestHex(x509, EVP_sha1());
  info->sha256Fingerprint = digestHex(x509, EVP_sha256());
  info->serialNumber = serialHex(x509);
  info->subject = nameToString(X509_get_subject_name(x509));
  info->issuer = nameToString(X509_get_issuer_name(x509));
  info->commonName = commonNameOf(X509_get_subject_name(x509));
  info->notBefore = detail::toTimePoint(X509_get0_notBefore(x509));
  info->notAfter = detail::toTimePoint(X509_get0_notAfter(x509));
  addSubjectAltNames(x509, *info);
  uint32_t flags = X509_get_extension_flags(x509);
  info->isCA = (flags & EXFLAG_CA) != 0;
  if (long pathLength = X509_get_pathlen(x509); info->isCA && pathLength >= 0) {
    info->pathLength = static_cast<int>(pathLength);
  }
  info->selfSigned = X509_self_signed(x509, 0) == 1;
  addKeyUsages(x509, *info);
  addExtendedKeyUsages(x509, *info);
  if (EVP_PKEY* key = X509_get0_pubkey(x509)) {
    switch (EVP_PKEY_get_base_id(key)) {
      case EVP_PKEY_EC:
        info->publicKeyAlgorithm = "ECDSA";
        break;
      case EVP_PKEY_RSA:
        info->publicKeyAlgorithm = "RSA";
        break;
      case EVP_PKEY_ED25519:
        info->publicKeyAlgorithm = "Ed25519";
        break;
      default:
        const char* name = EVP_PKEY_get0_type_name(key);
        info->publicKeyAlgorithm = name ? name : "unknown";
    }
    info->publicKeyBits = EVP_PKEY_get_bits(key);
  }
  // Decoding extensions may queue errors for malformed-but-ignorable content; they must not be
  // reported by the caller's next, unrelated OpenSSL call.
  ERR_clear_error();
  return info;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Lower-cases and drops one trailing dot (the absolute form "www.contoso.com." names the same
// host).
std::string canonicalHost(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return lower(host);
}

// The address bytes of an IP literal ("10.0.0.1", "::1", "[::1]"), or nullopt for a name.
std::optional<std::string> parseIpLiteral(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string text(host);
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1)
    return std::string(bytes.begin(), bytes.begin() + 4);
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1)
    return std::string(bytes.begin(), bytes.end());
  return std::nullopt;
}

}  // namespace

std::string_view usageName(Usage usage) {
  switch (usage) {
    case Usage::kDigitalSignature:
      return "digital signature";
    case Usage::kKeyEncipherment:
      return "key encipherment";
    case Usage::kServerAuth:
      return "server auth";
    case Usage::kClientAuth:
      return "client auth";
    case Usage::kCertSign:
      return "cert sign";
    case Usage::kCrlSign:
      return "crl sign";
  }
  return "unknown";
}

std::optional<Usage> parseUsage(std::string_view name) {
  for (auto usage : {Usage::kDigitalSignature, Usage::kKeyEncipherment, Usage::kServerAuth,
                     Usage::kClientAuth, Usage::kCertSign, Usage::kCrlSign}) {
    if (usageName(usage) == name) return usage;
  }
  return std::nullopt;
}

std::vector<Usage> defaultUsages() {
  return {Usage::kDigitalSignature, Usage::kKeyEncipherment, Usage::kServerAuth};
}

std::string_view validityReason(Validity validity) {
  switch (validity) {
    case Validity::kValid:
      return "Valid";
    case Validity::kNotYetValid:
      return "NotYetValid";
    case Validity::kExpired:
      return "Expired";
  }
  return "Unknown";
}

Certificate Certificate::adopt(X509* certificate) {
  std::shared_ptr<X509> owned(certificate, X509_free);
  auto info = describe(certificate);
  return Certificate(std::move(owned), std::move(info));
}

Certificate Certificate::fromNative(X509* certificate) {
  X509_up_ref(certificate);
  return adopt(certificate);
}

Result<std::vector<Certificate>> Certificate::chainFromPem(std::string_view pem) {
  ERR_clear_error();
  auto bio = detail::readBio(pem);
  std::vector<Certificate> chain;
  for (int block = 1;; ++block) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) {
      unsigned long error = ERR_peek_last_error();
      bool atEnd =
          ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
      if (!atEnd) return detail::failure("PEM block " + std::to_string(block) + " is malformed");
      ERR_clear_error();
      break;
    }
    std::unique_ptr<char, OpensslFree> ownedName(name), ownedHeader(header);
    std::unique_ptr<unsigned char, OpensslFree> ownedData(data);
    std::string_view type(name);
    if (type != "CERTIFICATE" && type != "X509 CERTIFICATE") continue;
    const unsigned char* cursor = data;
    X509* x509 = d2i_X509(nullptr, &cursor, length);
    if (!x509) {
      return detail::failure("PEM block " + std::to_string(block) +
                             " is not a valid X.509 certificate");
    }
    chain.push_back(adopt(x509));
  }
  if (chain.empty()) {
    return Result<std::vector<Certificate>>::error(
        "no PEM certificate found (expected a \"CERTIFICATE\" block)");
  }
  return chain;
}

Result<Certificate> Certificate::fromPem(std::string_view pem) {
  auto chain = chainFromPem(pem);
  if (!chain) return chain.status();
  if (chain->size() != 1) {
    return Result<Certificate>::error("expected one certificate, found " +
                                      std::to_string(chain->size()));
  }
  return std::move(chain->front());
}

Result<Certificate> Certificate::fromDer(std::string_view der) {
  ERR_clear_error();
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509* x509 = d2i_X509(nullptr, &cursor, static_cast<long>(der.size()));
  if (!x509) return detail::failure("not a DER X.509 certificate");
  if (cursor != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    X509_free(x509);
    return Result<Certificate>::error("trailing data after the DER certificate");
  }
  return adopt(x509);
}

std::string Certificate::toPem() const {
  auto bio = detail::writeBio();
  PEM_write_bio_X509(bio.get(), x509_.get());
  return detail::bioContents(bio.get());
}

std::string Certificate::toDer() const {
  int length = i2d_X509(x509_.get(), nullptr);
  if (length <= 0) return {};
  std::string der(static_cast<size_t>(length), '\0');
  auto* cursor = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(x509_.get(), &cursor);
  return der;
}

std::string Certificate::chainToPem(const std::vector<Certificate>& chain) {
  std::string pem;
  for (const auto& certificate : chain) pem += certificate.toPem();
  return pem;
}

bool dnsNameMatches(std::string_view sanName, std::string_view host) {
  std::string pattern = canonicalHost(sanName);
  std::string name = canonicalHost(host);
  if (pattern.empty() || name.empty()) return false;
  if (pattern == name) return true;
  // A binding's own wildcard host is matched above, by the identical wildcard SAN, and nothing
  // else.
  if (name.find('*') != std::string::npos) return false;
  if (pattern.size() < 3 || pattern.compare(0, 2, "*.") != 0) return false;
  std::string_view base = std::string_view(pattern).substr(2);
  // "*.com": a wildcard over a bare label would span a whole top-level domain.
  if (base.find('.') == std::string_view::npos || base.find('*') != std::string_view::npos)
    return false;
  if (name.size() <= base.size() + 1) return false;
  std::string_view nameView(name);
  size_t labelLength = nameView.size() - base.size() - 1;
  std::string_view label = nameView.substr(0, labelLength);
  return nameView[labelLength] == '.' && nameView.substr(labelLength + 1) == base &&
         label.find('.') == std::string_view::npos;
}

bool Certificate::coversHost(std::string_view host) const {
  const CertificateInfo& facts = *info_;
  if (auto address = parseIpLiteral(host)) {
    for (const auto& san : facts.ipAddresses) {
      if (parseIpLiteral(san) == address) return true;
    }
    return false;
  }
  for (const auto& san : facts.dnsNames) {
    if (dnsNameMatches(san, host)) return true;
  }
  if (facts.dnsNames.empty() && facts.ipAddresses.empty() && !facts.commonName.empty()) {
    return dnsNameMatches(facts.commonName, host);
  }
  return false;
}

Validity Certificate::validityAt(std::chrono::system_clock::time_point now) const {
  if (now < info_->notBefore) return Validity::kNotYetValid;
  if (now > info_->notAfter) return Validity::kExpired;
  return Validity::kValid;
}

bool Certificate::isSignedBy(const Certificate& issuer) const {
  bool signedBy = X509_check_issued(issuer.native(), x509_.get()) == X509_V_OK &&
                  X509_verify(x509_.get(), X509_get0_pubkey(issuer.native())) == 1;
  ERR_clear_error();
  return signedBy;
}

std::chrono::system_clock::time_point renewalTime(const CertificateInfo& info,
                                                  std::optional<std::chrono::seconds> renewBefore) {
  auto before = renewBefore
                    ? std::chrono::duration_cast<std::chrono::system_clock::duration>(*renewBefore)
                    : (info.notAfter - info.notBefore) / 3;
  return info.notAfter - before;
}

}  // namespace siteplane::certs

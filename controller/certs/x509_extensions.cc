#include "controller/certs/x509_extensions.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <ctime>

namespace siteplane::certs::detail {
namespace {

// Takes ownership of `extension` into `stack`; false (and frees it) when either step fails.
bool push(STACK_OF(X509_EXTENSION) * stack, X509_EXTENSION* extension) {
  if (!extension) return false;
  if (!sk_X509_EXTENSION_push(stack, extension)) {
    X509_EXTENSION_free(extension);
    return false;
  }
  return true;
}

bool has(const std::vector<Usage>& usages, Usage usage) {
  return std::find(usages.begin(), usages.end(), usage) != usages.end();
}

X509_EXTENSION* basicConstraints(bool isCA) {
  BasicConstraintsPtr constraints(BASIC_CONSTRAINTS_new());
  if (!constraints) return nullptr;
  constraints->ca = isCA ? 0xFF : 0;
  return X509V3_EXT_i2d(NID_basic_constraints, 1, constraints.get());
}

X509_EXTENSION* keyUsage(const std::vector<Usage>& usages) {
  // Bit numbers from RFC 5280 4.2.1.3.
  static constexpr std::pair<Usage, int> kBits[] = {{Usage::kDigitalSignature, 0},
                                                    {Usage::kKeyEncipherment, 2},
                                                    {Usage::kCertSign, 5},
                                                    {Usage::kCrlSign, 6}};
  Asn1BitStringPtr bits(ASN1_BIT_STRING_new());
  if (!bits) return nullptr;
  bool any = false;
  for (const auto& [usage, bit] : kBits) {
    if (!has(usages, usage)) continue;
    if (!ASN1_BIT_STRING_set_bit(bits.get(), bit, 1)) return nullptr;
    any = true;
  }
  // Nothing to say: an empty keyUsage would forbid every use, which nobody asks for.
  if (!any) return nullptr;
  return X509V3_EXT_i2d(NID_key_usage, 1, bits.get());
}

X509_EXTENSION* extendedKeyUsage(const std::vector<Usage>& usages) {
  ExtendedKeyUsagePtr purposes(sk_ASN1_OBJECT_new_null());
  if (!purposes) return nullptr;
  for (auto [usage, nid] : {std::pair{Usage::kServerAuth, NID_server_auth},
                            std::pair{Usage::kClientAuth, NID_client_auth}}) {
    if (!has(usages, usage)) continue;
    // OBJ_nid2obj returns a static object; the stack's free function leaves static objects alone.
    if (!sk_ASN1_OBJECT_push(purposes.get(), OBJ_nid2obj(nid))) return nullptr;
  }
  return X509V3_EXT_i2d(NID_ext_key_usage, 0, purposes.get());
}

GENERAL_NAME* dnsName(const std::string& name) {
  GeneralNamePtr general(GENERAL_NAME_new());
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  if (!general || !value) {
    ASN1_IA5STRING_free(value);
    return nullptr;
  }
  if (!ASN1_STRING_set(value, name.data(), static_cast<int>(name.size()))) {
    ASN1_IA5STRING_free(value);
    return nullptr;
  }
  GENERAL_NAME_set0_value(general.get(), GEN_DNS, value);
  return general.release();
}

GENERAL_NAME* ipAddress(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  int length = 0;
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    length = 4;
  } else if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
    length = 16;
  } else {
    return nullptr;
  }
  GeneralNamePtr general(GENERAL_NAME_new());
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
  if (!general || !value || !ASN1_OCTET_STRING_set(value, bytes.data(), length)) {
    ASN1_OCTET_STRING_free(value);
    return nullptr;
  }
  GENERAL_NAME_set0_value(general.get(), GEN_IPADD, value);
  return general.release();
}

X509_EXTENSION* subjectAltName(const CertificateTemplate& request, bool critical) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return nullptr;
  for (const auto& name : effectiveDnsNames(request)) {
    GENERAL_NAME* entry = dnsName(name);
    if (!entry || !sk_GENERAL_NAME_push(names.get(), entry)) {
      GENERAL_NAME_free(entry);
      return nullptr;
    }
  }
  for (const auto& address : effectiveIpAddresses(request)) {
    GENERAL_NAME* entry = ipAddress(address);
    if (!entry || !sk_GENERAL_NAME_push(names.get(), entry)) {
      GENERAL_NAME_free(entry);
      return nullptr;
    }
  }
  return X509V3_EXT_i2d(NID_subject_alt_name, critical ? 1 : 0, names.get());
}

}  // namespace

Result<X509ExtensionStackPtr> requestExtensions(const CertificateTemplate& request,
                                                KeyAlgorithm subjectKey) {
  X509ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
  if (!extensions) return failure("cannot allocate extensions");
  std::vector<Usage> usages = effectiveUsages(request, subjectKey);
  if (!push(extensions.get(), basicConstraints(request.isCA)))
    return failure("cannot encode basicConstraints");
  bool wantsKeyUsage = has(usages, Usage::kDigitalSignature) ||
                       has(usages, Usage::kKeyEncipherment) || has(usages, Usage::kCertSign) ||
                       has(usages, Usage::kCrlSign);
  if (wantsKeyUsage && !push(extensions.get(), keyUsage(usages)))
    return failure("cannot encode keyUsage");
  if ((has(usages, Usage::kServerAuth) || has(usages, Usage::kClientAuth)) &&
      !push(extensions.get(), extendedKeyUsage(usages))) {
    return failure("cannot encode extendedKeyUsage");
  }
  if (!effectiveDnsNames(request).empty() || !effectiveIpAddresses(request).empty()) {
    if (!push(extensions.get(), subjectAltName(request, request.commonName.empty()))) {
      return failure("cannot encode subjectAltName");
    }
  }
  return extensions;
}

Result<X509NamePtr> subjectName(const CertificateTemplate& request) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return failure("cannot allocate the subject name");
  if (!request.commonName.empty() &&
      !X509_NAME_add_entry_by_NID(
          name.get(), NID_commonName, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(request.commonName.c_str()), -1, -1, 0)) {
    return failure("commonName: cannot encode '" + request.commonName + "'");
  }
  return name;
}

std::string formatTime(std::chrono::system_clock::time_point time) {
  time_t seconds = toTimeT(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace siteplane::certs::detail

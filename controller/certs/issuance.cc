#include "controller/certs/issuance.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>

#include "controller/certs/openssl_util.h"
#include "controller/certs/x509_extensions.h"

namespace siteplane::certs {
namespace {

using detail::failure;

// RFC 5280 allows at most 20 octets and requires a positive serial; CA/Browser Forum wants at
// least 64 random bits. 16 random bytes with the top bit cleared (positive) and the next one set
// (so the encoding is always exactly 16 bytes, never shortened by leading zeros) keep 126 bits.
Status setRandomSerial(X509* x509) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return failure("cannot draw a random serial number");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7F) | 0x40);
  detail::BignumPtr number(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!number) return failure("cannot encode the serial number");
  detail::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(number.get(), nullptr));
  if (!serial || X509_set_serialNumber(x509, serial.get()) != 1) {
    return failure("cannot encode the serial number");
  }
  return Status::ok();
}

Status addConfiguredExtension(X509V3_CTX* context, X509* x509, int nid, const char* value) {
  detail::X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, context, nid, value));
  if (!extension || X509_add_ext(x509, extension.get(), -1) != 1) {
    return failure(std::string("cannot add ") + OBJ_nid2sn(nid));
  }
  return Status::ok();
}

// Builds and signs the certificate. `issuer` is nullptr for a self-signed certificate.
Result<Certificate> build(const CertificateTemplate& request, EVP_PKEY* subjectKey,
                          KeyAlgorithm subjectAlgorithm, X509* issuer, EVP_PKEY* signingKey,
                          std::chrono::system_clock::time_point notAfter,
                          X509_EXTENSION* extra = nullptr) {
  ERR_clear_error();
  detail::X509Ptr x509(X509_new());
  if (!x509 || X509_set_version(x509.get(), X509_VERSION_3) != 1)
    return failure("cannot allocate a certificate");
  if (auto serial = setRandomSerial(x509.get()); !serial) return serial;

  auto subject = detail::subjectName(request);
  if (!subject) return subject.status();
  if (X509_set_subject_name(x509.get(), subject->get()) != 1 ||
      X509_set_issuer_name(x509.get(), issuer ? X509_get_subject_name(issuer) : subject->get()) !=
          1) {
    return failure("cannot set the subject or issuer name");
  }
  if (!ASN1_TIME_set(X509_getm_notBefore(x509.get()), detail::toTimeT(request.notBefore)) ||
      !ASN1_TIME_set(X509_getm_notAfter(x509.get()), detail::toTimeT(notAfter))) {
    return failure("cannot set the validity period");
  }
  if (X509_set_pubkey(x509.get(), subjectKey) != 1) return failure("cannot set the public key");

  auto extensions = detail::requestExtensions(request, subjectAlgorithm);
  if (!extensions) return extensions.status();
  for (int i = 0; i < sk_X509_EXTENSION_num(extensions->get()); ++i) {
    if (X509_add_ext(x509.get(), sk_X509_EXTENSION_value(extensions->get(), i), -1) != 1) {
      return failure("cannot add an extension");
    }
  }
  if (extra && X509_add_ext(x509.get(), extra, -1) != 1) return failure("cannot add an extension");
  // Key identifiers are derived from the keys (RFC 5280 4.2.1.2 method 1), so they go through
  // OpenSSL's own code with a context naming subject and issuer. The subject key identifier must
  // exist first: for a self-signed certificate the authority key identifier copies it.
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer ? issuer : x509.get(), x509.get(), nullptr, nullptr, 0);
  if (auto added = addConfiguredExtension(&context, x509.get(), NID_subject_key_identifier, "hash");
      !added) {
    return added;
  }
  if (auto added = addConfiguredExtension(&context, x509.get(), NID_authority_key_identifier,
                                          "keyid:always");
      !added) {
    return added;
  }

  if (X509_sign(x509.get(), signingKey, detail::signingDigest(signingKey)) <= 0) {
    return failure("signing the certificate failed");
  }
  return Certificate::fromNative(x509.get());
}

}  // namespace

Result<Certificate> issueSelfSigned(const CertificateTemplate& request, const PrivateKey& key) {
  if (auto valid = validateTemplate(request); !valid) return valid;
  return build(request, key.native(), key.algorithm(), nullptr, key.native(), request.notAfter);
}

Result<Certificate> issueAcmeChallengeCertificate(const std::string& dnsName,
                                                  std::string_view keyAuthorizationDigest,
                                                  const PrivateKey& key,
                                                  std::chrono::system_clock::time_point now) {
  if (keyAuthorizationDigest.size() != 32)
    return Result<Certificate>::error("the key authorization digest must be 32 bytes");
  CertificateTemplate request;
  request.dnsNames = {dnsName};
  request.notBefore = now - std::chrono::hours(1);
  request.notAfter = now + std::chrono::hours(24 * 7);
  if (auto valid = validateTemplate(request); !valid) return valid;
  // id-pe-acmeIdentifier (RFC 8737 §6.1): critical; its value is the DER of an OCTET STRING
  // holding the digest.
  detail::Asn1ObjectPtr oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
  std::string value = {'\x04', '\x20'};
  value.append(keyAuthorizationDigest);
  detail::Asn1OctetStringPtr content(ASN1_OCTET_STRING_new());
  if (!oid || !content ||
      ASN1_OCTET_STRING_set(content.get(), reinterpret_cast<const unsigned char*>(value.data()),
                            static_cast<int>(value.size())) != 1)
    return failure("cannot encode the acmeIdentifier extension");
  detail::X509ExtensionPtr extension(
      X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), /*critical=*/1, content.get()));
  if (!extension) return failure("cannot encode the acmeIdentifier extension");
  return build(request, key.native(), key.algorithm(), nullptr, key.native(), request.notAfter,
               extension.get());
}

Result<Certificate> issueSignedBy(const CertificateTemplate& request, const PublicKey& subjectKey,
                                  const Certificate& caCertificate, const PrivateKey& caKey,
                                  std::chrono::system_clock::time_point now) {
  if (auto valid = validateTemplate(request); !valid) return valid;
  const CertificateInfo& ca = caCertificate.info();
  // Named by subject as people know it; a certificate with an empty subject by its thumbprint.
  const std::string who =
      "CA certificate " + (ca.subject.empty() ? "with thumbprint " + ca.thumbprint : ca.subject);
  if (!ca.isCA)
    return Result<Certificate>::error(who + " is not a CA (basicConstraints CA:TRUE is missing)");
  if (!ca.keyUsages.empty() &&
      std::find(ca.keyUsages.begin(), ca.keyUsages.end(), "cert sign") == ca.keyUsages.end()) {
    return Result<Certificate>::error(who +
                                      " may not sign certificates (its keyUsage lacks cert sign)");
  }
  switch (caCertificate.validityAt(now)) {
    case Validity::kExpired:
      return Result<Certificate>::error(who + " expired at " + detail::formatTime(ca.notAfter));
    case Validity::kNotYetValid:
      return Result<Certificate>::error(who + " is not valid before " +
                                        detail::formatTime(ca.notBefore));
    case Validity::kValid:
      break;
  }
  if (!caKey.matches(caCertificate)) {
    return Result<Certificate>::error("the CA private key does not match " + who);
  }
  auto notAfter = std::min(request.notAfter, ca.notAfter);
  if (notAfter <= request.notBefore) {
    return Result<Certificate>::error(who + " expires at " + detail::formatTime(ca.notAfter) +
                                      ", before the certificate's notBefore");
  }
  return build(request, subjectKey.native(), subjectKey.algorithm(), caCertificate.native(),
               caKey.native(), notAfter);
}

}  // namespace siteplane::certs

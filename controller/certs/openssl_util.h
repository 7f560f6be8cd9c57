#pragma once

// Internal to controller/certs: RAII owners for OpenSSL objects and error formatting. Only this
// module's .cc files (and its tests) include OpenSSL headers.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace siteplane::certs::detail {

// unique_ptr deleter that calls OpenSSL's free function for the type.
template <auto FreeFunction>
struct Free {
  template <typename T>
  void operator()(T* object) const {
    FreeFunction(object);
  }
};

using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, Free<ASN1_BIT_STRING_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Free<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Free<BASIC_CONSTRAINTS_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using ExtendedKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Free<EXTENDED_KEY_USAGE_free>>;
using Pkcs12Ptr = std::unique_ptr<PKCS12, Free<PKCS12_free>>;

// Frees a STACK_OF(X509) and the certificates in it.
struct X509StackFree {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

// Frees a STACK_OF(X509_EXTENSION) and the extensions in it.
struct X509ExtensionStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * stack) const {
    sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
  }
};
using X509ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), X509ExtensionStackFree>;

// Drains the thread's OpenSSL error queue into one line ("reason; reason"), or "" when empty.
// Draining matters: a stale entry left in the queue would be blamed on the next, unrelated call.
std::string drainErrors();

// Status::error("<what>: <OpenSSL reasons>"), draining the error queue.
Status failure(const std::string& what);

// A read-only memory BIO over `data` (which must outlive the BIO).
BioPtr readBio(std::string_view data);
// An empty, growable memory BIO.
BioPtr writeBio();
// Everything written to a memory BIO so far.
std::string bioContents(BIO* bio);

// Upper-case hex without separators.
std::string toHex(const unsigned char* data, size_t size);

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* time);
// Seconds since the epoch, as X509 times are stored (sub-second precision is dropped).
time_t toTimeT(std::chrono::system_clock::time_point time);

// The digest X509_sign/X509_REQ_sign need for `key`: nullptr for Ed25519 (a "pure" signature
// scheme that hashes internally and rejects an explicit digest), SHA-384 for P-384 (matching the
// curve's strength, as RFC 5480 recommends), SHA-256 otherwise.
const EVP_MD* signingDigest(EVP_PKEY* key);

}  // namespace siteplane::certs::detail

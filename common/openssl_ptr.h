#pragma once

// RAII owners for OpenSSL objects, for the two modules that hold OpenSSL (controller/certs and
// dataplane/tls): a unique_ptr per type whose deleter is OpenSSL's free function, so no path
// leaks and no call site names a deleter.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace siteplane::openssl {

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
using X509CrlPtr = std::unique_ptr<X509_CRL, Free<X509_CRL_free>>;
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

}  // namespace siteplane::openssl

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

#include "common/openssl_ptr.h"
#include "common/status.h"

namespace siteplane::certs::detail {

// The RAII owners (BioPtr, X509Ptr, EvpPkeyPtr, ...) of common/openssl_ptr.h, by their names.
using namespace ::siteplane::openssl;

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

#pragma once

// The cryptography of JSON Web Signatures (RFC 7515/7518) as ACME (RFC 8555) uses them, on the
// key types of private_key.h: ES256 over P-256 and RS256 over RSA for the account key, HS256 for
// an external account binding, and the public key as a JWK (RFC 7517) with its RFC 7638
// thumbprint. Encoding the JWS itself (base64url, JSON) is the caller's.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "controller/certs/private_key.h"

namespace siteplane::certs {

// The JWS "alg" a key signs with: "ES256" (ECDSA P-256) or "RS256" (RSA); an error for other
// keys (ACME servers accept no others for account keys in practice).
Result<std::string> joseAlgorithm(const PrivateKey& key);

// The public key's JWK members in the lexicographic order RFC 7638 requires for the thumbprint,
// values already base64url: {"crv","kty","x","y"} for P-256, {"e","kty","n"} for RSA.
Result<std::vector<std::pair<std::string, std::string>>> publicJwkMembers(const PrivateKey& key);

// The JWS signature of `signingInput` (the ASCII "protected.payload"): for ES256 the 64-byte
// R || S of RFC 7518 §3.4 (not DER), for RS256 PKCS#1 v1.5 over SHA-256.
Result<std::string> joseSign(const PrivateKey& key, std::string_view signingInput);

// HMAC-SHA-256 of `data` under `key` (HS256).
Result<std::string> hmacSha256(std::string_view key, std::string_view data);

std::string sha256(std::string_view data);

// RFC 4648 §5, no padding.
std::string base64UrlEncode(std::string_view data);
// Accepts padded and unpadded input; anything outside the base64url alphabet is an error.
Result<std::string> base64UrlDecode(std::string_view text);

}  // namespace siteplane::certs

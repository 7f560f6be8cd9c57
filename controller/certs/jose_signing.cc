#include "controller/certs/jose_signing.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64.h"
#include "common/openssl_ptr.h"

namespace siteplane::certs {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* signature) const { ECDSA_SIG_free(signature); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

bool isP256(const PrivateKey& key) {
  char curve[64] = {};
  size_t length = 0;
  return key.algorithm() == KeyAlgorithm::kEcdsa &&
         EVP_PKEY_get_utf8_string_param(key.native(), OSSL_PKEY_PARAM_GROUP_NAME, curve,
                                        sizeof curve, &length) == 1 &&
         std::string_view(curve, length) == "prime256v1";
}

// A big-endian integer parameter of the key, left-padded with zeros to `width` bytes (0: as is).
Result<std::string> bignumParameter(const PrivateKey& key, const char* name, int width) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key.native(), name, &raw) != 1) {
    ERR_clear_error();
    return Status::error(std::string("the key has no ") + name);
  }
  openssl::BignumPtr value(raw);
  const int size = width > 0 ? width : BN_num_bytes(value.get());
  std::string out(static_cast<size_t>(size), '\0');
  if (BN_bn2binpad(value.get(), reinterpret_cast<unsigned char*>(out.data()), size) != size)
    return Status::error(std::string("cannot encode the key's ") + name);
  return out;
}

Result<std::string> toRawEcdsa(const std::string& der) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!signature) {
    ERR_clear_error();
    return Status::error("cannot decode the ECDSA signature");
  }
  std::string out(64, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), bytes, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), bytes + 32, 32) != 32)
    return Status::error("cannot encode the ECDSA signature");
  return out;
}

}  // namespace

Result<std::string> joseAlgorithm(const PrivateKey& key) {
  if (key.algorithm() == KeyAlgorithm::kRsa) return std::string("RS256");
  if (isP256(key)) return std::string("ES256");
  return Status::error("an ACME account key must be ECDSA P-256 (ES256) or RSA (RS256)");
}

Result<std::vector<std::pair<std::string, std::string>>> publicJwkMembers(const PrivateKey& key) {
  auto algorithm = joseAlgorithm(key);
  if (!algorithm) return algorithm.status();
  if (*algorithm == "RS256") {
    auto n = bignumParameter(key, OSSL_PKEY_PARAM_RSA_N, 0);
    auto e = bignumParameter(key, OSSL_PKEY_PARAM_RSA_E, 0);
    if (!n) return n.status();
    if (!e) return e.status();
    return std::vector<std::pair<std::string, std::string>>{
        {"e", base64UrlEncode(*e)}, {"kty", "RSA"}, {"n", base64UrlEncode(*n)}};
  }
  auto x = bignumParameter(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
  auto y = bignumParameter(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
  if (!x) return x.status();
  if (!y) return y.status();
  return std::vector<std::pair<std::string, std::string>>{
      {"crv", "P-256"}, {"kty", "EC"}, {"x", base64UrlEncode(*x)}, {"y", base64UrlEncode(*y)}};
}

Result<std::string> joseSign(const PrivateKey& key, std::string_view signingInput) {
  auto algorithm = joseAlgorithm(key);
  if (!algorithm) return algorithm.status();
  MdCtxPtr context(EVP_MD_CTX_new());
  size_t length = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(signingInput.data());
  if (!context ||
      EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.native()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &length, input, signingInput.size()) != 1) {
    ERR_clear_error();
    return Status::error("cannot sign with the account key");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     input, signingInput.size()) != 1) {
    ERR_clear_error();
    return Status::error("cannot sign with the account key");
  }
  signature.resize(length);
  if (*algorithm == "ES256") return toRawEcdsa(signature);
  return signature;
}

Result<std::string> hmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length)) {
    ERR_clear_error();
    return Status::error("cannot compute HMAC-SHA-256");
  }
  return std::string(reinterpret_cast<char*>(digest), length);
}

std::string sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), length);
}

std::string base64UrlEncode(std::string_view data) {
  std::string out = base64Encode(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Result<std::string> base64UrlDecode(std::string_view text) {
  std::string standard;
  standard.reserve(text.size() + 2);
  for (char c : text) {
    if (c == '=') break;
    if (c == '+' || c == '/') return Status::error("not valid base64url");
    standard.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  while (standard.size() % 4 != 0) standard.push_back('=');
  auto decoded = base64Decode(standard);
  if (!decoded) return Status::error("not valid base64url");
  return decoded;
}

}  // namespace siteplane::certs

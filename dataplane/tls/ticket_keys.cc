#include "dataplane/tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstring>

namespace siteplane::tls {

TicketKeys& TicketKeys::instance() {
  static TicketKeys keys;
  return keys;
}

bool TicketKeys::rotateLocked(std::chrono::steady_clock::time_point now) {
  if (!keys_.empty() && now - keys_.front().created < kRotation) return true;
  Key key;
  if (RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) != 1 ||
      RAND_bytes(key.aesKey.data(), static_cast<int>(key.aesKey.size())) != 1 ||
      RAND_bytes(key.hmacKey.data(), static_cast<int>(key.hmacKey.size())) != 1) {
    return !keys_.empty();  // keep using the current key rather than failing handshakes
  }
  key.created = now;
  keys_.insert(keys_.begin(), key);
  if (keys_.size() > kKeep) keys_.resize(kKeep);
  return true;
}

int TicketKeys::callback(SSL*, unsigned char keyName[16], unsigned char iv[16],
                         EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) noexcept {
  TicketKeys& self = instance();
  Key key;
  bool renew = false;
  {
    std::lock_guard lock(self.mutex_);
    if (!self.rotateLocked(std::chrono::steady_clock::now())) return -1;
    if (encrypt) {
      key = self.keys_.front();
    } else {
      size_t index = 0;
      for (; index < self.keys_.size(); ++index) {
        if (std::memcmp(self.keys_[index].name.data(), keyName, 16) == 0) break;
      }
      if (index == self.keys_.size()) return 0;  // unknown or expired key: full handshake
      key = self.keys_[index];
      renew = index != 0;
    }
  }
  if (encrypt) {
    std::memcpy(keyName, key.name.data(), 16);
    if (RAND_bytes(iv, 16) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aesKey.data(), iv) != 1)
      return -1;
  } else if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aesKey.data(), iv) != 1) {
    return -1;
  }
  char digest[] = "sha256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmacKey.data(), key.hmacKey.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  return renew ? 2 : 1;
}

}  // namespace siteplane::tls

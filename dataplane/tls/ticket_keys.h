#pragma once

// Session-ticket keys shared by every ServerContext of the process. Tickets let a returning client
// resume without a full handshake (one ECDHE instead of ECDHE + signature); the keys rotate so that
// a stolen key only exposes a bounded window of sessions.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

typedef struct ssl_st SSL;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace siteplane::tls {

class TicketKeys {
 public:
  // A new key every kRotation; tickets sealed by the previous kKeep - 1 keys still decrypt (and are
  // renewed), so a session lives at most kRotation * kKeep.
  static constexpr std::chrono::seconds kRotation{3600};
  static constexpr size_t kKeep = 3;

  static TicketKeys& instance();

  // The OpenSSL ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb). Returns 1 to issue/accept,
  // 2 to accept and renew a ticket sealed by an older key, 0 for an unknown key (full handshake),
  // -1 on internal error.
  static int callback(SSL* ssl, unsigned char keyName[16], unsigned char iv[16],
                      EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) noexcept;

 private:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aesKey{};
    std::array<unsigned char, 32> hmacKey{};
    std::chrono::steady_clock::time_point created;
  };
  TicketKeys() = default;
  // Precondition: mutex_ held. Adds a fresh key when the newest is older than kRotation.
  bool rotateLocked(std::chrono::steady_clock::time_point now);

  std::mutex mutex_;       // guards keys_; taken once per full handshake or resumption
  std::vector<Key> keys_;  // newest first
};

}  // namespace siteplane::tls

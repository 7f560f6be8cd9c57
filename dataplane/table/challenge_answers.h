#pragma once

// The answers the data plane gives to an ACME server validating a name (RFC 8555 §8.3 http-01,
// RFC 8737 tls-alpn-01):
// the controller adds one per pending challenge and takes them away when the order is done, the
// workers look them up. Unlike the binding table, answers come and go without a table swap: an
// order must not wait for a compile pass, and a pass must not carry them.
//
// Thread-safety: every method from any thread. Lookups take a shared lock and happen only for
// requests under /.well-known/acme-challenge/ and handshakes that offer the acme-tls/1 protocol,
// so the hot path never touches it.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

namespace siteplane::tls {
class ServerContext;
}

namespace siteplane::table {

inline constexpr std::string_view kAcmeChallengePath = "/.well-known/acme-challenge/";

class ChallengeAnswers {
 public:
  // GET http://<host>/.well-known/acme-challenge/<token> answers `keyAuthorization` until
  // removeOwner(owner). `owner` is whoever placed the order ("namespace/name" of a Certificate);
  // `host` a DNS name, compared case-insensitively.
  void setHttp01(const std::string& owner, std::string_view host, const std::string& token,
                 std::string keyAuthorization);
  // A handshake for `host` offering ALPN acme-tls/1 gets `context` (the challenge certificate of
  // RFC 8737 §3, for the key authorization whose SHA-256 is `digest`) until removeOwner(owner).
  void setTlsAlpn01(const std::string& owner, std::string_view host, std::string digest,
                    std::shared_ptr<const tls::ServerContext> context);
  // Whether `host` is answered for the key authorization digest `digest` already (building the
  // challenge certificate again is then unnecessary).
  bool hasTlsAlpn01(std::string_view host, const std::string& digest) const;
  // Takes away every answer of `owner` (its order ended, or it was deleted).
  void removeOwner(const std::string& owner);

  // The key authorization for a request to `host` (as sent, with any port) and `token`.
  std::optional<std::string> http01(std::string_view host, std::string_view token) const;
  std::shared_ptr<const tls::ServerContext> tlsAlpn01(std::string_view host) const;
  size_t size() const;

 private:
  struct Http01 {
    std::string owner;
    std::string keyAuthorization;
  };
  struct TlsAlpn01 {
    std::string owner;
    std::string digest;
    std::shared_ptr<const tls::ServerContext> context;
  };
  mutable std::shared_mutex mutex_;
  std::map<std::string, TlsAlpn01, std::less<>> tlsAlpn01_;                    // by host
  std::map<std::pair<std::string, std::string>, Http01, std::less<>> http01_;  // (host, token)
};

}  // namespace siteplane::table

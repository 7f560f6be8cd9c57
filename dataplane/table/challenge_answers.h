#pragma once

// The answers the data plane gives to an ACME server validating a name (RFC 8555 §8.3 http-01,
// RFC 8737 tls-alpn-01). Every replica fills them from the Certificates' status (the leader
// writes there what to answer), the workers look them up. Unlike the binding table, answers come
// and go without a table swap: an order must not wait for a compile pass, and a pass must not
// carry them.
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
#include <vector>

namespace siteplane::tls {
class ServerContext;
}

namespace siteplane::table {

inline constexpr std::string_view kAcmeChallengePath = "/.well-known/acme-challenge/";

// GET http://<host>/.well-known/acme-challenge/<token> answers keyAuthorization.
struct Http01Answer {
  std::string host;  // a DNS name, compared case-insensitively
  std::string token;
  std::string keyAuthorization;
};

// A handshake for `host` offering ALPN acme-tls/1 gets `context`: the challenge certificate of
// RFC 8737 §3 for the key authorization whose SHA-256 is `digest`.
struct TlsAlpn01Answer {
  std::string host;
  std::string digest;
  std::shared_ptr<const tls::ServerContext> context;
};

class ChallengeAnswers {
 public:
  // One owner (a Certificate, "namespace/name") never has more answers than this: an order has
  // one authorization per name, and a Certificate at most 100 names.
  static constexpr size_t kMaxAnswersPerOwner = 128;

  // Replaces every answer of `owner` by these (beyond kMaxAnswersPerOwner of a kind, the rest
  // are dropped). Two owners may answer the same host and token (an authorization shared by two
  // orders of one account); each keeps its own until it is replaced or removed.
  void replace(const std::string& owner, std::vector<Http01Answer> http01,
               std::vector<TlsAlpn01Answer> tlsAlpn01);
  // Takes away every answer of `owner` (its order ended, or it was deleted).
  void removeOwner(const std::string& owner);

  // The key authorization for a request to `host` (as sent, with any port) and `token`.
  std::optional<std::string> http01(std::string_view host, std::string_view token) const;
  std::shared_ptr<const tls::ServerContext> tlsAlpn01(std::string_view host) const;
  // The context `owner` answers `host` with when it is for `digest` (so that the certificate
  // need not be built again), else null.
  std::shared_ptr<const tls::ServerContext> tlsAlpn01Of(const std::string& owner,
                                                        std::string_view host,
                                                        const std::string& digest) const;
  size_t size() const;

 private:
  struct Owned {
    std::vector<Http01Answer> http01;
    std::vector<TlsAlpn01Answer> tlsAlpn01;
  };
  void removeLocked(const std::string& owner);

  mutable std::shared_mutex mutex_;
  std::map<std::string, Owned> owners_;
  // Lookup indexes over owners_: (host, token) -> key authorization and how many owners give it;
  // host -> the owners' tls-alpn-01 answers.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, size_t>, std::less<>>
      http01_;
  std::map<std::string, std::vector<std::pair<std::string, TlsAlpn01Answer>>, std::less<>>
      tlsAlpn01_;
};

// "WWW.Example.test:80" -> "www.example.test" (an IPv6 literal keeps its brackets).
std::string challengeHostName(std::string_view host);

}  // namespace siteplane::table

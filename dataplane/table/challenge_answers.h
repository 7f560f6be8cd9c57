#pragma once

// The answers the data plane gives to an ACME server validating a name (RFC 8555 §8.3 http-01):
// the controller adds one per pending challenge and takes them away when the order is done, the
// workers look them up. Unlike the binding table, answers come and go without a table swap: an
// order must not wait for a compile pass, and a pass must not carry them.
//
// Thread-safety: every method from any thread. Lookups take a shared lock and happen only for
// requests under /.well-known/acme-challenge/, so the hot path never touches it.

#include <cstddef>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

namespace siteplane::table {

inline constexpr std::string_view kAcmeChallengePath = "/.well-known/acme-challenge/";

class ChallengeAnswers {
 public:
  // GET http://<host>/.well-known/acme-challenge/<token> answers `keyAuthorization` until
  // removeOwner(owner). `owner` is whoever placed the order ("namespace/name" of a Certificate);
  // `host` a DNS name, compared case-insensitively.
  void setHttp01(const std::string& owner, std::string_view host, const std::string& token,
                 std::string keyAuthorization);
  // Takes away every answer of `owner` (its order ended, or it was deleted).
  void removeOwner(const std::string& owner);

  // The key authorization for a request to `host` (as sent, with any port) and `token`.
  std::optional<std::string> http01(std::string_view host, std::string_view token) const;
  size_t size() const;

 private:
  struct Http01 {
    std::string owner;
    std::string keyAuthorization;
  };
  mutable std::shared_mutex mutex_;
  std::map<std::pair<std::string, std::string>, Http01, std::less<>> http01_;  // (host, token)
};

}  // namespace siteplane::table

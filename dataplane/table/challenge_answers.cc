#include "dataplane/table/challenge_answers.h"

#include <cctype>
#include <mutex>

namespace siteplane::table {
namespace {

// "WWW.Example.test:80" -> "www.example.test"; an IPv6 literal keeps its brackets.
std::string hostName(std::string_view host) {
  if (!host.empty() && host.front() != '[') {
    const size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) host = host.substr(0, colon);
  }
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

void ChallengeAnswers::setHttp01(const std::string& owner, std::string_view host,
                                 const std::string& token, std::string keyAuthorization) {
  std::unique_lock lock(mutex_);
  http01_[{hostName(host), token}] = Http01{owner, std::move(keyAuthorization)};
}

void ChallengeAnswers::setTlsAlpn01(const std::string& owner, std::string_view host,
                                    std::string digest,
                                    std::shared_ptr<const tls::ServerContext> context) {
  std::unique_lock lock(mutex_);
  tlsAlpn01_[hostName(host)] = TlsAlpn01{owner, std::move(digest), std::move(context)};
}

bool ChallengeAnswers::hasTlsAlpn01(std::string_view host, const std::string& digest) const {
  std::shared_lock lock(mutex_);
  auto found = tlsAlpn01_.find(hostName(host));
  return found != tlsAlpn01_.end() && found->second.digest == digest;
}

std::shared_ptr<const tls::ServerContext> ChallengeAnswers::tlsAlpn01(std::string_view host) const {
  std::shared_lock lock(mutex_);
  auto found = tlsAlpn01_.find(hostName(host));
  return found == tlsAlpn01_.end() ? nullptr : found->second.context;
}

void ChallengeAnswers::removeOwner(const std::string& owner) {
  std::unique_lock lock(mutex_);
  for (auto it = http01_.begin(); it != http01_.end();)
    it = it->second.owner == owner ? http01_.erase(it) : std::next(it);
  for (auto it = tlsAlpn01_.begin(); it != tlsAlpn01_.end();)
    it = it->second.owner == owner ? tlsAlpn01_.erase(it) : std::next(it);
}

std::optional<std::string> ChallengeAnswers::http01(std::string_view host,
                                                    std::string_view token) const {
  std::shared_lock lock(mutex_);
  auto found = http01_.find(std::pair(hostName(host), std::string(token)));
  if (found == http01_.end()) return std::nullopt;
  return found->second.keyAuthorization;
}

size_t ChallengeAnswers::size() const {
  std::shared_lock lock(mutex_);
  return http01_.size() + tlsAlpn01_.size();
}

}  // namespace siteplane::table

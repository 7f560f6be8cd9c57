#include "dataplane/table/challenge_answers.h"

#include <algorithm>
#include <mutex>

#include "dataplane/table/binding_table.h"

namespace siteplane::table {

std::string challengeHostName(std::string_view host) {
  if (!host.empty() && host.front() != '[') {
    const size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) host = host.substr(0, colon);
  }
  return hostKey(host);
}

void ChallengeAnswers::removeLocked(const std::string& owner) {
  auto found = owners_.find(owner);
  if (found == owners_.end()) return;
  for (const Http01Answer& answer : found->second.http01) {
    auto indexed = http01_.find(std::pair(answer.host, answer.token));
    if (indexed != http01_.end() && --indexed->second.second == 0) http01_.erase(indexed);
  }
  for (const TlsAlpn01Answer& answer : found->second.tlsAlpn01) {
    auto indexed = tlsAlpn01_.find(answer.host);
    if (indexed == tlsAlpn01_.end()) continue;
    auto& list = indexed->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const auto& entry) { return entry.first == owner; }),
               list.end());
    if (list.empty()) tlsAlpn01_.erase(indexed);
  }
  owners_.erase(found);
}

void ChallengeAnswers::replace(const std::string& owner, std::vector<Http01Answer> http01,
                               std::vector<TlsAlpn01Answer> tlsAlpn01) {
  if (http01.size() > kMaxAnswersPerOwner) http01.resize(kMaxAnswersPerOwner);
  if (tlsAlpn01.size() > kMaxAnswersPerOwner) tlsAlpn01.resize(kMaxAnswersPerOwner);
  for (auto& answer : http01) answer.host = challengeHostName(answer.host);
  for (auto& answer : tlsAlpn01) answer.host = challengeHostName(answer.host);
  std::unique_lock lock(mutex_);
  removeLocked(owner);
  if (http01.empty() && tlsAlpn01.empty()) return;
  for (const Http01Answer& answer : http01) {
    auto& indexed = http01_[std::pair(answer.host, answer.token)];
    indexed.first = answer.keyAuthorization;
    ++indexed.second;
  }
  for (const TlsAlpn01Answer& answer : tlsAlpn01)
    tlsAlpn01_[answer.host].emplace_back(owner, answer);
  owners_[owner] = Owned{std::move(http01), std::move(tlsAlpn01)};
}

void ChallengeAnswers::removeOwner(const std::string& owner) {
  std::unique_lock lock(mutex_);
  removeLocked(owner);
}

std::optional<std::string> ChallengeAnswers::http01(std::string_view host,
                                                    std::string_view token) const {
  std::shared_lock lock(mutex_);
  if (http01_.empty()) return std::nullopt;
  auto found = http01_.find(std::pair(challengeHostName(host), std::string(token)));
  if (found == http01_.end()) return std::nullopt;
  return found->second.first;
}

std::shared_ptr<const tls::ServerContext> ChallengeAnswers::tlsAlpn01(std::string_view host) const {
  std::shared_lock lock(mutex_);
  if (tlsAlpn01_.empty()) return nullptr;
  auto found = tlsAlpn01_.find(challengeHostName(host));
  if (found == tlsAlpn01_.end() || found->second.empty()) return nullptr;
  return found->second.front().second.context;
}

std::shared_ptr<const tls::ServerContext> ChallengeAnswers::tlsAlpn01Of(
    const std::string& owner, std::string_view host, const std::string& digest) const {
  std::shared_lock lock(mutex_);
  auto found = owners_.find(owner);
  if (found == owners_.end()) return nullptr;
  const std::string name = challengeHostName(host);
  for (const TlsAlpn01Answer& answer : found->second.tlsAlpn01)
    if (answer.host == name && answer.digest == digest) return answer.context;
  return nullptr;
}

size_t ChallengeAnswers::size() const {
  std::shared_lock lock(mutex_);
  return http01_.size() + tlsAlpn01_.size();
}

}  // namespace siteplane::table

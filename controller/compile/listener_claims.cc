#include "controller/compile/listener_claims.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "controller/compile/object_age.h"

namespace siteplane::compile {
namespace {

using api::ConditionStatus;

std::string describeListener(const table::ListenerKey& key) {
  if (key.address.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", key.address, key.port);
  return fmt::format("{}:{}", key.address, key.port);
}

struct PortClaim {
  api::Protocol protocol;
  const api::Binding* owner;
  table::ListenerKey listener;
};

ConditionPlan protocolConflict(const Candidate& candidate, const PortClaim& claim) {
  return conditionPlan(
      api::condition_type::kConflicted, ConditionStatus::kTrue, reason::kProtocolConflict,
      fmt::format("port {} is already {} on {} (Binding {}/{}, older): one port serves one "
                  "protocol on every address",
                  candidate.listener.port, api::toString(claim.protocol),
                  describeListener(claim.listener), claim.owner->metadata.namespaceName,
                  claim.owner->metadata.name));
}

ConditionPlan hostConflict(const Candidate& candidate, const api::Binding& holder) {
  return conditionPlan(api::condition_type::kConflicted, ConditionStatus::kTrue,
                       reason::kHostnameConflict,
                       fmt::format("host \"{}\" on {} is already bound by Binding {}/{} (older)",
                                   candidate.host, describeListener(candidate.listener),
                                   holder.metadata.namespaceName, holder.metadata.name));
}

}  // namespace

std::vector<Candidate> claimListeners(std::vector<Candidate> candidates,
                                      const std::vector<api::Binding>& bindings,
                                      std::vector<ConditionPlan>& conflicted) {
  std::sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    return ageOf(bindings[a.binding].metadata) < ageOf(bindings[b.binding].metadata);
  });
  std::unordered_map<uint16_t, PortClaim> ports;
  std::unordered_map<table::ListenerKey, std::unordered_map<std::string, const api::Binding*>,
                     table::ListenerKeyHash>
      hosts;
  std::vector<Candidate> winners;
  winners.reserve(candidates.size());
  for (auto& candidate : candidates) {
    const api::Binding& binding = bindings[candidate.binding];
    auto [port, portInserted] = ports.try_emplace(
        candidate.listener.port, PortClaim{binding.spec.protocol, &binding, candidate.listener});
    if (port->second.protocol != binding.spec.protocol) {
      conflicted[candidate.binding] = protocolConflict(candidate, port->second);
      continue;
    }
    auto [host, hostInserted] = hosts[candidate.listener].emplace(candidate.host, &binding);
    if (!hostInserted) {
      conflicted[candidate.binding] = hostConflict(candidate, *host->second);
      continue;
    }
    conflicted[candidate.binding] =
        conditionPlan(api::condition_type::kConflicted, ConditionStatus::kFalse,
                      reason::kNoConflicts, "no conflicts");
    winners.push_back(std::move(candidate));
  }
  return winners;
}

}  // namespace siteplane::compile

// advanceAcmeOrder: see certificate_acme.h.

#include "controller/reconcile/certificate_acme.h"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>
#include <vector>

#include "common/base64.h"
#include "common/durable_file.h"
#include "common/json_fields.h"
#include "common/logging.h"
#include "controller/acme/rfc2136.h"
#include "controller/certs/certificate_request.h"
#include "controller/certs/jose_signing.h"
#include "controller/reconcile/certificate_reconciler.h"

namespace siteplane::reconcile {
namespace {

namespace reason = certificate_reason;
using std::chrono::system_clock;

// How soon a pending or processing order is looked at again at least, and the longest a
// Retry-After is waited for.
constexpr std::chrono::seconds kPollInterval{1};
constexpr std::chrono::seconds kMaxRetryAfter{3600};
// How soon a Certificate whose names are not reachable yet looks again (no ACME request).
constexpr std::chrono::seconds kReachRetry{2};
// Problem documents are the server's words: kept verbatim, but no longer than this in a
// condition or Event.
constexpr size_t kMaxProblemBytes = 1024;
// Alternate chains fetched at most, looking for preferredChain.
constexpr size_t kMaxAlternates = 4;

const char* challengeTypeName(api::AcmeChallengeType type) {
  switch (type) {
    case api::AcmeChallengeType::kTlsAlpn01:
      return "tls-alpn-01";
    case api::AcmeChallengeType::kDns01:
      return "dns-01";
    case api::AcmeChallengeType::kHttp01:
      break;
  }
  return "http-01";
}

// The TXT record a dns-01 challenge for `identifier` ("*.example.com" or "www.example.com")
// is answered with (RFC 8555 §8.4).
std::string dnsRecordName(const std::string& identifier) {
  const std::string base = identifier.rfind("*.", 0) == 0 ? identifier.substr(2) : identifier;
  return "_acme-challenge." + base + ".";
}

bool inZone(const std::string& name, const std::string& zone) {
  return name == zone || (name.size() > zone.size() &&
                          name.compare(name.size() - zone.size(), zone.size(), zone) == 0 &&
                          name[name.size() - zone.size() - 1] == '.');
}

// The solver for `name` (see api::AcmeSolver): a dnsNames match, then the longest dnsZones
// match, then one without a selector.
const api::AcmeSolver* solverFor(const api::AcmeIssuer& issuer, const std::string& name) {
  const api::AcmeSolver* best = nullptr;
  int bestRank = -1;
  for (const api::AcmeSolver& solver : issuer.solvers) {
    int rank = -1;
    if (solver.dnsNames.empty() && solver.dnsZones.empty()) rank = 0;
    if (std::find(solver.dnsNames.begin(), solver.dnsNames.end(), name) != solver.dnsNames.end())
      rank = 1 << 20;
    for (const std::string& zone : solver.dnsZones)
      if (inZone(name, zone)) rank = std::max(rank, 1 + static_cast<int>(zone.size()));
    if (rank > bestRank) {
      best = &solver;
      bestRank = rank;
    }
  }
  return best;
}

std::string pendingKeyPath(const AcmeServices& services, const std::string& storeKey) {
  const size_t slash = storeKey.find('/');
  return (services.pendingKeys / storeKey.substr(0, slash) / (storeKey.substr(slash + 1) + ".key"))
      .string();
}

// PEM "CERTIFICATE REQUEST" -> DER, for finalize's base64url "csr".
Result<std::string> derOfPem(const std::string& pem) {
  const size_t begin = pem.find("-----\n");
  const size_t end = pem.find("-----END");
  if (begin == std::string::npos || end == std::string::npos || end < begin)
    return Status::error("the CSR is not PEM");
  return base64Decode(pem.substr(begin + 6, end - begin - 6));
}

// The server's text as it may go into status: valid UTF-8 (anything else replaced by '?'), at
// most kMaxProblemBytes.
std::string sanitized(const std::string& text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxProblemBytes));
  for (size_t i = 0; i < text.size() && out.size() < kMaxProblemBytes;) {
    const auto at = [&](size_t j) { return static_cast<unsigned char>(text[i + j]); };
    const unsigned char c = at(0);
    size_t length = 0;
    // RFC 3629's table: no overlong forms, no surrogates, nothing above U+10FFFF.
    if (c >= 0x20 && c < 0x7F) {
      length = 1;
    } else if (c == '\n' || c == '\t') {
      length = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (size_t j = 1; valid && j < length; ++j) valid = (at(j) & 0xC0) == 0x80;
    if (valid && length == 3) valid = !(c == 0xE0 && at(1) < 0xA0) && !(c == 0xED && at(1) >= 0xA0);
    if (valid && length == 4) valid = !(c == 0xF0 && at(1) < 0x90) && !(c == 0xF4 && at(1) >= 0x90);
    if (valid) {
      out.append(text, i, length);
      i += length;
    } else {
      out += '?';
      i += 1;
    }
  }
  if (out.size() >= kMaxProblemBytes && text.size() > out.size()) out += "...";
  return out;
}

// A status the server reports, as one of RFC 8555's words ("unknown" for anything else), so
// that nothing longer or stranger reaches status.
std::string knownState(const std::string& state) {
  for (const char* known :
       {"pending", "ready", "processing", "valid", "invalid", "deactivated", "expired", "revoked"})
    if (state == known) return state;
  return "unknown";
}

// "https://host:port" of an https URL of printable ASCII and at most 2048 bytes (what status and
// the CRD keep), "" for anything else.
std::string originOf(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0 || url.size() > 2048) return "";
  for (char c : url)
    if (c <= ' ' || c >= 0x7F) return "";
  const size_t end = url.find_first_of("/?#", kScheme.size());
  return url.substr(0, end);
}

// A member that is an array, or an empty one.
const nlohmann::json& arrayMember(const nlohmann::json& object, const char* name) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json* value = memberOf(object, name);
  return value && value->is_array() ? *value : kEmpty;
}

std::optional<acme::Problem> problemMember(const nlohmann::json& object, const char* name) {
  const nlohmann::json* value = memberOf(object, name);
  return value ? acme::parseProblem(*value) : std::nullopt;
}

// One reconcile's walk through the order.
class OrderWalk {
 public:
  explicit OrderWalk(AcmeOrderStep& step) : step_(step), status_(step.certificate.status) {}

  ReconcileResult run() {
    names_ = acmeIdentifiers(step_.request);
    if (auto refusal = refuseUnorderable()) return *refusal;
    // The Issuer reconciler registers the account (reading the external account binding's key
    // as its origin allows); an order waits for it.
    auto account = step_.services.accounts->registered(step_.issuerRef, step_.issuer);
    if (!account) return waitFor(reason::kIssuerNotReady, account.message(), kReachRetry);
    account_ = *account;
    origin_ = originOf(step_.issuer.server);
    auto& order = status_.acmeOrder;
    if (order && order->dnsNames != names_) dropOrder();
    if (!order) {
      if (auto waiting = waitForReach()) return *waiting;
      return placeOrder();
    }
    return advance();
  }

 private:
  Result<acme::AcmeResponse> post(const std::string& url,
                                  const std::optional<nlohmann::json>& payload) {
    // Every URL the server hands out must be its own: a hostile directory cannot make this
    // controller send signed requests elsewhere.
    if (originOf(url).empty() || originOf(url) != origin_)
      return Status::error(
          ErrorCode::kInvalid,
          fmt::format("the ACME server named a URL outside {}: \"{}\"", origin_, sanitized(url)));
    auto answer = account_->client->post(account_->key, account_->url, url, payload);
    if (answer && answer->problem) {
      const std::string type = answer->problem->shortType();
      // The account is gone at the server (the CA was reset): register again. ("unauthorized"
      // also means a failed validation or another account's order, so it forgets nothing.)
      if (type == "accountDoesNotExist") step_.services.accounts->forget(step_.issuerRef);
    }
    return answer;
  }

  // Names no solver here can validate: a wildcard needs dns-01, and IP addresses (RFC 8738) are
  // not ordered.
  std::optional<ReconcileResult> refuseUnorderable() {
    if (!step_.request.ipAddresses.empty())
      return fail("ACME Issuers order DNS names only; remove spec.ipAddresses", std::nullopt);
    for (const std::string& name : names_)
      if (name.rfind("*.", 0) == 0 && solverFor(step_.issuer, name) &&
          solverFor(step_.issuer, name)->type != api::AcmeChallengeType::kDns01)
        return fail(fmt::format("{} is a wildcard, which only dns-01 can validate; Issuer {} "
                                "has no dns-01 solver",
                                name, step_.issuerRef),
                    std::nullopt);
    for (const std::string& name : names_)
      if (!solverFor(step_.issuer, name))
        return fail(fmt::format("Issuer {} has no solver for {}", step_.issuerRef, name),
                    std::nullopt);
    return std::nullopt;
  }

  // Before an order is placed: every name's challenge can be answered here, and none belongs
  // to another namespace's Binding.
  std::optional<ReconcileResult> waitForReach() {
    std::vector<std::string> answeredHere;  // dns-01 names are answered by the DNS server
    for (const std::string& name : names_)
      if (solverFor(step_.issuer, name)->type != api::AcmeChallengeType::kDns01)
        answeredHere.push_back(name);
    if (step_.services.claimedElsewhere) {
      const std::string binding =
          step_.services.claimedElsewhere(answeredHere, step_.certificate.metadata.namespaceName);
      if (!binding.empty())
        return fail(fmt::format("a name of this Certificate is served by Binding {} of another "
                                "namespace; a Certificate may only be ordered for its own "
                                "namespace's names",
                                binding),
                    std::nullopt);
    }
    if (!step_.services.listening) return std::nullopt;
    std::vector<std::string> waiting;
    for (const std::string& name : answeredHere) {
      const bool https = solverFor(step_.issuer, name)->type == api::AcmeChallengeType::kTlsAlpn01;
      if (!step_.services.listening(name, https)) waiting.push_back(waitingNote(name, https));
    }
    if (waiting.empty()) return std::nullopt;
    return waitFor(reason::kOrderPending,
                   fmt::format("no ACME order yet: {}", fmt::join(waiting, "; ")), kReachRetry);
  }

  // Nothing asked of the CA yet, and nothing failed: Issuing=True says what is awaited.
  ReconcileResult waitFor(const char* readyReason, const std::string& what,
                          std::chrono::seconds again) {
    const std::string message = fmt::format("{}; {}", step_.stale.message, what);
    if (step_.current) describe(status_, step_.current->leaf(), step_.currentRenewal);
    if (!keepsServing()) step_.setCondition("Ready", false, readyReason, message);
    step_.setCondition("Issuing", true, step_.stale.reason, message);
    return ReconcileResult::requeueAfter(again);
  }

  static std::string waitingNote(const std::string& name, bool https) {
    return https ? "waiting for an https listener to open (one opens once a binding on it has a "
                   "certificate: use http01 for the first certificate of a port of its own)"
                 : "waiting for an http binding of " + name + " to listen";
  }

  void dropOrder() {
    if (status_.acmeOrder) removeDnsRecords(status_.acmeOrder->authorizations, /*all=*/true);
    status_.acmeOrder.reset();
    step_.services.challenges->removeOwner(step_.storeKey);
  }

  // The RFC 2136 server of the dns-01 solver for `identifier`, with its TSIG secret.
  std::optional<acme::Rfc2136Server> dnsServerFor(const std::string& identifier) const {
    const api::AcmeSolver* solver = solverFor(step_.issuer, identifier);
    if (!solver || !solver->rfc2136) return std::nullopt;
    const size_t index = static_cast<size_t>(solver - step_.issuer.solvers.data());
    acme::Rfc2136Server server{solver->rfc2136->nameserver, solver->rfc2136->tsigKeyName,
                               solver->rfc2136->tsigAlgorithm, ""};
    if (account_ && index < account_->tsigSecrets.size())
      server.tsigSecret = account_->tsigSecrets[index];
    return server;
  }

  // Takes away the TXT records of dns-01 authorizations that no longer need them (no longer
  // pending), or of every one (`all`: the order ended). A failure is logged: the record holds
  // only a digest, and the next answer for the name adds its own value.
  void removeDnsRecords(const std::vector<api::AcmeAuthorizationStatus>& authorizations, bool all,
                        const std::vector<api::AcmeAuthorizationStatus>* now = nullptr) {
    for (const auto& authorization : authorizations) {
      if (authorization.challenge != "dns-01" || authorization.keyAuthorization.empty()) continue;
      if (!all && now) {
        bool stillPending = false;
        for (const auto& current : *now)
          if (current.url == authorization.url && current.state == "pending") stillPending = true;
        if (stillPending) continue;
      }
      auto server = dnsServerFor(authorization.identifier);
      if (!server) continue;
      Status removed = acme::removeTxtRecord(
          *server, dnsRecordName(authorization.identifier),
          certs::base64UrlEncode(certs::sha256(authorization.keyAuthorization)));
      if (!removed)
        logger("controller.acme")
            ->warn("acme_dns01_record_not_removed key={}/{} name={} error=\"{}\"",
                   CertificateReconciler::kKind, step_.storeKey, authorization.identifier,
                   removed.message());
    }
  }

  // The Ready/Issuing conditions while an order runs: a valid certificate that is only due for
  // renewal keeps serving (Ready stays True); otherwise Ready=False OrderPending.
  ReconcileResult progress(std::chrono::seconds again) {
    const auto& order = *status_.acmeOrder;
    std::vector<std::string> parts;
    for (const auto& authorization : order.authorizations) {
      std::string part = authorization.identifier + " " + authorization.state;
      if (!authorization.challenge.empty()) part += " (" + authorization.challenge + ")";
      if (!authorization.waitingFor.empty()) part += ", " + authorization.waitingFor;
      parts.push_back(std::move(part));
    }
    const std::string message =
        fmt::format("{}; ACME order {} is {}{}{}", step_.stale.message, order.url, order.state,
                    parts.empty() ? "" : ": ", fmt::join(parts, ", "));
    if (keepsServing()) {
      step_.setCondition("Ready", true, reason::kIssued,
                         fmt::format("certificate {} valid until {}; renewal in progress",
                                     step_.current->leaf().thumbprint(),
                                     formatTime(step_.current->leaf().info().notAfter)));
    } else {
      step_.setCondition("Ready", false, reason::kOrderPending, message);
    }
    step_.setCondition("Issuing", true, step_.stale.reason, message);
    return ReconcileResult::requeueAfter(again);
  }

  std::chrono::seconds nextPoll(const std::optional<std::chrono::seconds>& retryAfter) {
    const auto poll = step_.services.backoff->poll(step_.storeKey);
    return retryAfter ? std::clamp(std::max(*retryAfter, poll), kPollInterval, kMaxRetryAfter)
                      : poll;
  }

  bool keepsServing() const {
    return step_.current && std::string_view(step_.stale.reason) == reason::kRenewing;
  }

  // A refusal or an invalid order: the problem verbatim on the conditions (and so in the
  // IssueFailed Event), the order dropped unless `keepOrder`, the next attempt after the
  // longer of Retry-After and the backoff.
  ReconcileResult fail(const std::string& why, std::optional<std::chrono::seconds> retryAfter,
                       bool keepOrder = false) {
    const std::string message = sanitized(why);
    logger("controller.acme")
        ->warn("acme_order_failed key={}/{} issuer={} error=\"{}\"", CertificateReconciler::kKind,
               step_.storeKey, step_.issuerRef, message);
    if (!keepOrder) dropOrder();
    if (step_.current) describe(status_, step_.current->leaf(), step_.currentRenewal);
    if (keepsServing()) {
      step_.setCondition("Ready", true, reason::kIssued,
                         fmt::format("certificate {} valid until {}; renewal failed: {}",
                                     step_.current->leaf().thumbprint(),
                                     formatTime(step_.current->leaf().info().notAfter), message));
    } else {
      step_.setCondition("Ready", false, reason::kIssuanceFailed, message);
    }
    step_.setCondition("Issuing", false, reason::kFailed, message);
    // A transient failure (the server unreachable, 5xx, a nonce refused twice) keeps the order
    // and takes the work queue's backoff; a refused or invalid order waits longer (AcmeBackoff).
    if (keepOrder && !retryAfter) return ReconcileResult::retry(message);
    const auto backoff = step_.services.backoff->failed(step_.storeKey);
    return ReconcileResult::requeueAfter(
        std::min(std::max(backoff, retryAfter.value_or(backoff)), kMaxRetryAfter));
  }

  ReconcileResult refused(const char* what, const acme::AcmeResponse& response) {
    const std::string type = response.problem ? response.problem->shortType() : "";
    const bool transient = response.status >= 500 || response.status == 429 ||
                           type == "rateLimited" || type == "badNonce";
    return fail(fmt::format("ACME {}: {}", what, response.failure().describe()),
                response.retryAfter, /*keepOrder=*/transient);
  }

  ReconcileResult placeOrder() {
    nlohmann::json identifiers = nlohmann::json::array();
    for (const std::string& name : names_)
      identifiers.push_back({{"type", "dns"}, {"value", name}});
    auto directory = account_->client->directory();
    if (!directory) return fail(directory.message(), std::nullopt, true);
    auto answer = post(directory->newOrder, nlohmann::json{{"identifiers", identifiers}});
    if (!answer) return fail("ACME newOrder: " + answer.message(), std::nullopt, true);
    if (!answer->ok()) return refused("newOrder", *answer);
    if (originOf(answer->location) != origin_)
      return fail("ACME newOrder answered without an order URL of the server's own", std::nullopt);
    api::AcmeOrderStatus order;
    order.url = answer->location;
    order.state = knownState(stringMember(answer->body, "status"));
    order.dnsNames = names_;
    status_.acmeOrder = std::move(order);
    logger("controller.acme")
        ->info("acme_order_placed key={}/{} order={} names={}", CertificateReconciler::kKind,
               step_.storeKey, status_.acmeOrder->url, fmt::join(names_, ","));
    // Status names the order before anything is answered, so a crash from here on resumes it.
    return progress(std::chrono::seconds(0));
  }

  ReconcileResult advance() {
    auto& order = *status_.acmeOrder;
    auto answer = post(order.url, std::nullopt);
    if (!answer) return fail("ACME order: " + answer.message(), std::nullopt, true);
    if (answer->status == 404) {
      // Expired and forgotten by the server: another order, after the backoff.
      return fail(fmt::format("ACME order {} no longer exists", order.url), std::nullopt);
    }
    if (!answer->ok()) return refused("order", *answer);
    if (!answer->body.is_object())
      return fail(fmt::format("ACME order {}: the answer is not a JSON object", order.url),
                  std::nullopt, true);
    const nlohmann::json& body = answer->body;
    const std::string before = order.state;
    order.state = knownState(stringMember(body, "status"));
    if (order.state != before) step_.services.backoff->succeeded(step_.storeKey);
    if (order.state == "invalid") return invalidOrder(body);
    if (order.state == "pending") return authorize(body, answer->retryAfter);
    if (order.state == "ready") return finalize(body);
    if (order.state == "processing") return progress(nextPoll(answer->retryAfter));
    if (order.state == "valid") return download(body);
    return fail(fmt::format("ACME order {} has an unknown status \"{}\"", order.url, order.state),
                std::nullopt);
  }

  // The problem of an invalid order: its own error, and every failed challenge's.
  ReconcileResult invalidOrder(const nlohmann::json& body) {
    std::string message;
    if (auto problem = problemMember(body, "error")) message = problem->describe();
    for (const auto& url : arrayMember(body, "authorizations")) {
      if (!url.is_string()) continue;
      auto fetched = post(url.get<std::string>(), std::nullopt);
      if (!fetched || !fetched->ok()) continue;
      const std::string identifier = stringMember(memberOf(fetched->body, "identifier")
                                                      ? *memberOf(fetched->body, "identifier")
                                                      : nlohmann::json(),
                                                  "value");
      for (const auto& challenge : arrayMember(fetched->body, "challenges")) {
        if (auto problem = problemMember(challenge, "error"))
          message += (message.empty() ? "" : "; ") + fmt::format("{} {}: {}", identifier,
                                                                 stringMember(challenge, "type"),
                                                                 problem->describe());
      }
    }
    if (message.empty()) message = "the ACME server marked the order invalid";
    return fail(fmt::format("ACME order {} is invalid: {}", status_.acmeOrder->url, message),
                std::nullopt);
  }

  ReconcileResult authorize(const nlohmann::json& body,
                            const std::optional<std::chrono::seconds>& retryAfter) {
    auto& order = *status_.acmeOrder;
    const std::vector<api::AcmeAuthorizationStatus> before = order.authorizations;
    std::vector<api::AcmeAuthorizationStatus> seen;
    for (const auto& url : arrayMember(body, "authorizations")) {
      if (!url.is_string()) continue;
      auto fetched = post(url.get<std::string>(), std::nullopt);
      if (!fetched) return fail("ACME authorization: " + fetched.message(), std::nullopt, true);
      if (!fetched->ok()) return refused("authorization", *fetched);
      if (!fetched->body.is_object())
        return fail("ACME authorization: the answer is not a JSON object", std::nullopt, true);
      api::AcmeAuthorizationStatus authorization;
      authorization.url = url.get<std::string>();
      authorization.state = knownState(stringMember(fetched->body, "status"));
      const nlohmann::json* identifier = memberOf(fetched->body, "identifier");
      const std::string value = identifier ? stringMember(*identifier, "value") : "";
      const nlohmann::json* wildcard = memberOf(fetched->body, "wildcard");
      const bool isWildcard = wildcard && wildcard->is_boolean() && wildcard->get<bool>();
      authorization.identifier = isWildcard ? "*." + value : value;
      // The server answers for the names ordered, nothing else: no answer is ever published
      // for a host the Certificate does not name.
      if (std::find(names_.begin(), names_.end(), authorization.identifier) == names_.end())
        return fail(fmt::format("the ACME server sent an authorization for \"{}\", which the "
                                "order does not name",
                                sanitized(authorization.identifier)),
                    std::nullopt);
      if (authorization.state == "pending") {
        const api::AcmeAuthorizationStatus* earlier = nullptr;
        for (const auto& known : before)
          if (known.url == authorization.url) earlier = &known;
        if (auto refusal = answer(authorization, value, fetched->body, earlier)) return *refusal;
      }
      seen.push_back(std::move(authorization));
    }
    removeDnsRecords(before, /*all=*/false, &seen);
    order.authorizations = std::move(seen);
    for (const auto& authorization : order.authorizations)
      if (authorization.state == "invalid") {
        order.state = "invalid";
        return invalidOrder(body);
      }
    return progress(nextPoll(retryAfter));
  }

  // Answers one pending authorization with its solver's challenge: the answer goes into status
  // (every replica's data plane takes it from there, see AcmeChallengeSync), and the CA is told
  // to validate on the next look, once status has carried it out. A refusal when it cannot.
  std::optional<ReconcileResult> answer(api::AcmeAuthorizationStatus& authorization,
                                        const std::string& host, const nlohmann::json& body,
                                        const api::AcmeAuthorizationStatus* earlier) {
    const api::AcmeSolver* solver = solverFor(step_.issuer, authorization.identifier);
    if (!solver)
      return fail(
          fmt::format("Issuer {} has no solver for {}", step_.issuerRef, authorization.identifier),
          std::nullopt);
    const char* type = challengeTypeName(solver->type);
    authorization.challenge = type;
    const nlohmann::json* chosen = nullptr;
    for (const auto& challenge : arrayMember(body, "challenges"))
      if (stringMember(challenge, "type") == type) chosen = &challenge;
    if (!chosen)
      return fail(fmt::format("the ACME server offers no {} challenge for {}", type,
                              authorization.identifier),
                  std::nullopt);
    const std::string token = stringMember(*chosen, "token");
    // RFC 8555 §8.1: base64url, at least 128 bits of entropy.
    if (token.size() < 22 || token.size() > 256 ||
        token.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            std::string::npos)
      return fail(fmt::format("the ACME server sent a malformed {} token for {}", type,
                              authorization.identifier),
                  std::nullopt);
    auto keyAuthorization = acme::keyAuthorization(account_->key, token);
    if (!keyAuthorization) return fail(keyAuthorization.message(), std::nullopt);
    authorization.token = token;
    authorization.keyAuthorization = *keyAuthorization;
    const bool https = solver->type == api::AcmeChallengeType::kTlsAlpn01;
    const bool sameAsBefore = earlier && earlier->token == authorization.token &&
                              earlier->keyAuthorization == authorization.keyAuthorization;
    if (solver->type == api::AcmeChallengeType::kDns01) {
      // The leader adds the record itself; the CA is told on the next look.
      if (!sameAsBefore) {
        auto server = dnsServerFor(authorization.identifier);
        if (!server)
          return fail("no RFC 2136 server for " + authorization.identifier, std::nullopt);
        Status added = acme::addTxtRecord(*server, dnsRecordName(authorization.identifier),
                                          certs::base64UrlEncode(certs::sha256(*keyAuthorization)));
        if (!added)
          return fail(added.message(), std::nullopt, added.code() == ErrorCode::kUnavailable);
        logger("controller.acme")
            ->info("acme_dns01_record_added key={}/{} name={}", CertificateReconciler::kKind,
                   step_.storeKey, dnsRecordName(authorization.identifier));
        return std::nullopt;
      }
    } else if (step_.services.listening && !step_.services.listening(host, https)) {
      authorization.waitingFor = waitingNote(host, https);
      return std::nullopt;
    }
    if (stringMember(*chosen, "status") != "pending") return std::nullopt;  // already told
    const bool published = sameAsBefore && earlier->waitingFor.empty();
    if (!published) return std::nullopt;  // status carries the answer out first
    if (https) {
      // One tls-alpn-01 answer per host: while another Certificate's is served, this one waits.
      const auto mine = step_.services.challenges->tlsAlpn01Of(
          step_.storeKey, host, certs::sha256(authorization.keyAuthorization));
      if (!mine || mine != step_.services.challenges->tlsAlpn01(host)) {
        authorization.waitingFor = "another Certificate's tls-alpn-01 challenge for " + host +
                                   " to end (or this one's answer to be served)";
        return std::nullopt;
      }
    }
    if (solver->type != api::AcmeChallengeType::kDns01 && step_.services.answerPublished &&
        !step_.services.answerPublished(step_.storeKey, token)) {
      authorization.waitingFor = "the cluster to carry the answer to every replica";
      return std::nullopt;
    }
    auto told = post(stringMember(*chosen, "url"), nlohmann::json::object());
    if (!told) return fail("ACME challenge: " + told.message(), std::nullopt, true);
    if (!told->ok()) return refused("challenge", *told);
    logger("controller.acme")
        ->info("acme_challenge_answered key={}/{} name={} type={}", CertificateReconciler::kKind,
               step_.storeKey, authorization.identifier, type);
    return std::nullopt;
  }

  // The key the certificate is for: the current one when it is kept, else the waiting one
  // (created and written to disk the first time).
  Result<certs::PrivateKey> orderKey(bool create) {
    const api::PrivateKeySpec& wanted = step_.certificate.spec.privateKey;
    if (step_.current && wanted.rotationPolicy == api::RotationPolicy::kNever &&
        keyFitsSpec(step_.current->key, wanted))
      return step_.current->key;
    const std::filesystem::path path = pendingKeyPath(step_.services, step_.storeKey);
    std::error_code error;
    if (std::filesystem::exists(path, error)) {
      auto pem = durable::readFile(path);
      if (!pem) return pem.status();
      auto key = certs::PrivateKey::fromPem(*pem);
      if (key && keyFitsSpec(*key, wanted)) return key;
    }
    if (!create) return Status::error(ErrorCode::kNotFound, "the order's private key is gone");
    auto key = certs::PrivateKey::generate(keyAlgorithm(wanted.algorithm), wantedKeyBits(wanted));
    if (!key) return key.status();
    if (Status written =
            durable::writePrivateFile(step_.services.pendingKeys.parent_path(), path, key->toPem());
        !written)
      return written;
    return key;
  }

  ReconcileResult finalize(const nlohmann::json& body) {
    auto key = orderKey(/*create=*/true);
    if (!key) return fail("the order's private key: " + key.message(), std::nullopt);
    certs::CertificateTemplate request = step_.request;
    request.dnsNames = names_;
    auto csr = certs::createCertificateRequest(request, *key);
    if (!csr) return fail("the CSR: " + csr.message(), std::nullopt);
    auto der = derOfPem(*csr);
    if (!der) return fail("the CSR: " + der.message(), std::nullopt);
    auto finalized =
        post(stringMember(body, "finalize"), nlohmann::json{{"csr", certs::base64UrlEncode(*der)}});
    if (!finalized) return fail("ACME finalize: " + finalized.message(), std::nullopt, true);
    if (!finalized->ok()) return refused("finalize", *finalized);
    status_.acmeOrder->state = knownState(stringMember(finalized->body, "status"));
    return progress(nextPoll(finalized->retryAfter));
  }

  // The chain at `url`, leaf first.
  Result<std::vector<certs::Certificate>> fetchChain(const std::string& url,
                                                     acme::AcmeResponse* response) {
    auto fetched = post(url, std::nullopt);
    if (!fetched) return fetched.status();
    if (!fetched->ok())
      return Status::error(fetched->status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalid,
                           "ACME certificate download: " + fetched->failure().describe());
    if (response) *response = *fetched;
    auto chain = certs::Certificate::chainFromPem(fetched->rawBody);
    if (!chain)
      return Status::error(ErrorCode::kInvalid, "ACME certificate download: " + chain.message());
    return chain;
  }

  static std::string topIssuerCommonName(const std::vector<certs::Certificate>& chain) {
    const std::string& issuer = chain.back().info().issuer;
    const size_t cn = issuer.find("CN=");
    if (cn == std::string::npos) return "";
    return issuer.substr(cn + 3, issuer.find(',', cn) - cn - 3);
  }

  // The default chain, or the alternate whose top issuer is spec.acme.preferredChain.
  Result<std::vector<certs::Certificate>> preferredChain(const std::string& url) {
    acme::AcmeResponse first;
    auto chain = fetchChain(url, &first);
    if (!chain || chain->empty() || step_.issuer.preferredChain.empty() ||
        topIssuerCommonName(*chain) == step_.issuer.preferredChain)
      return chain;
    auto [from, to] = first.links.equal_range("alternate");
    size_t tried = 0;
    for (auto it = from; it != to && tried < kMaxAlternates; ++it, ++tried) {
      auto alternate = fetchChain(it->second, nullptr);
      if (alternate && !alternate->empty() &&
          topIssuerCommonName(*alternate) == step_.issuer.preferredChain)
        return alternate;
    }
    return chain;
  }

  // Whether the leaf is what was ordered: the order's key, every name.
  std::optional<std::string> wrongLeaf(const certs::PrivateKey& key,
                                       const std::vector<certs::Certificate>& chain) const {
    if (chain.empty()) return "the ACME server's download holds no certificate";
    if (!key.matches(chain.front()))
      return "the ACME server's certificate is not for the order's key";
    certs::CertificateTemplate held;
    held.dnsNames = chain.front().info().dnsNames;
    const auto have = acmeIdentifiers(held);
    for (const std::string& name : names_)
      if (std::find(have.begin(), have.end(), name) == have.end())
        return fmt::format("the ACME server's certificate does not name {}", name);
    if (chain.front().validityAt(step_.now) != certs::Validity::kValid)
      return "the ACME server's certificate is not valid now";
    return std::nullopt;
  }

  ReconcileResult download(const nlohmann::json& body) {
    auto key = orderKey(/*create=*/false);
    if (!key) {
      // Finalized with a key this replica does not have (another one finalized, or the file
      // was lost): the certificate is of no use, order another.
      return fail("the finalized order's private key is not here; ordering again", std::nullopt);
    }
    auto chain = preferredChain(stringMember(body, "certificate"));
    if (!chain) return fail(chain.message(), std::nullopt, chain.code() == ErrorCode::kUnavailable);
    if (auto wrong = wrongLeaf(*key, *chain)) return fail(*wrong, std::nullopt);
    certs::CertificateBundle bundle{std::move(*chain), *key};
    Status stored = step_.store(bundle);
    if (!stored) return ReconcileResult::retry("certificate store: " + stored.message());
    const std::string orderUrl = status_.acmeOrder->url;
    removeDnsRecords(status_.acmeOrder->authorizations, /*all=*/true);
    abandonAcmeOrder(step_.services, step_.storeKey);
    status_.acmeOrder.reset();
    const certs::Certificate& leaf = bundle.leaf();
    const auto renewal = renewalOf(leaf.info(), step_.certificate.spec);
    describe(status_, leaf, renewal);
    logger("controller.acme")
        ->info("acme_certificate_issued key={}/{} order={} thumbprint={} not_after={}",
               CertificateReconciler::kKind, step_.storeKey, orderUrl, leaf.thumbprint(),
               formatTime(leaf.info().notAfter));
    step_.setCondition(
        "Ready", true, reason::kIssued,
        fmt::format("certificate {} issued by Issuer {}, valid until {}", leaf.thumbprint(),
                    step_.issuerRef, formatTime(leaf.info().notAfter)));
    step_.setCondition(
        "Issuing", false, reason::kUpToDate,
        fmt::format("the certificate matches the spec; renewal at {}", formatTime(renewal)));
    return requeueAt(renewal, step_.now);
  }

  AcmeOrderStep& step_;
  api::CertificateStatus& status_;
  std::shared_ptr<const acme::AcmeAccount> account_;
  std::vector<std::string> names_;
  std::string origin_;  // "https://host:port" of the directory
};

}  // namespace

ReconcileResult advanceAcmeOrder(AcmeOrderStep& step) { return OrderWalk(step).run(); }

void abandonAcmeOrder(const AcmeServices& services, const std::string& storeKey) {
  if (services.challenges) services.challenges->removeOwner(storeKey);
  if (services.backoff) services.backoff->succeeded(storeKey);
  if (services.pendingKeys.empty() || storeKey.find('/') == std::string::npos) return;
  std::error_code ignored;
  std::filesystem::remove(pendingKeyPath(services, storeKey), ignored);
}

}  // namespace siteplane::reconcile

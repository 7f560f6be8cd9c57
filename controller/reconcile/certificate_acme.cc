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
#include "controller/certs/certificate_request.h"
#include "controller/certs/issuance.h"
#include "controller/certs/jose_signing.h"
#include "controller/reconcile/certificate_reconciler.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::reconcile {
namespace {

namespace reason = certificate_reason;
using std::chrono::system_clock;

// How soon a pending or processing order is looked at again when the server sends no
// Retry-After, and the longest a Retry-After is waited for.
constexpr std::chrono::seconds kPollInterval{1};
constexpr std::chrono::seconds kMaxRetryAfter{3600};

const char* challengeTypeName(api::AcmeChallengeType type) {
  return type == api::AcmeChallengeType::kTlsAlpn01 ? "tls-alpn-01" : "http-01";
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

std::chrono::seconds retryAfterOr(const acme::AcmeResponse& response, std::chrono::seconds other) {
  if (!response.retryAfter) return other;
  return std::clamp(*response.retryAfter, std::chrono::seconds(1), kMaxRetryAfter);
}

// One reconcile's walk through the order.
class OrderWalk {
 public:
  explicit OrderWalk(AcmeOrderStep& step) : step_(step), status_(step.certificate.status) {}

  ReconcileResult run() {
    auto account = step_.services.accounts->account(step_.issuerRef, step_.issuer);
    if (!account)
      return fail(fmt::format("Issuer {}: {}", step_.issuerRef, account.message()), std::nullopt,
                  /*keepOrder=*/true);
    account_ = *account;
    names_ = acmeIdentifiers(step_.request);
    auto& order = status_.acmeOrder;
    if (order && order->dnsNames != names_) dropOrder();
    if (!order) return placeOrder();
    return advance();
  }

 private:
  Result<acme::AcmeResponse> post(const std::string& url,
                                  const std::optional<nlohmann::json>& payload) {
    return account_->client->post(account_->key, account_->url, url, payload);
  }

  void dropOrder() {
    status_.acmeOrder.reset();
    step_.services.challenges->removeOwner(step_.storeKey);
  }

  // The Ready/Issuing conditions while an order runs: a valid certificate that is only due for
  // renewal keeps serving (Ready stays True); otherwise Ready=False OrderPending.
  ReconcileResult progress(std::chrono::seconds again) {
    const auto& order = *status_.acmeOrder;
    std::vector<std::string> parts;
    for (const auto& authorization : order.authorizations)
      parts.push_back(fmt::format(
          "{} {}{}", authorization.identifier, authorization.state,
          authorization.challenge.empty() ? std::string() : " (" + authorization.challenge + ")"));
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

  bool keepsServing() const {
    return step_.current && std::string_view(step_.stale.reason) == reason::kRenewing;
  }

  // A refusal or an invalid order: the problem verbatim on the conditions (and so in the
  // IssueFailed Event), the order dropped unless `keepOrder`, the next attempt after Retry-After
  // or the key's backoff.
  ReconcileResult fail(const std::string& message, std::optional<std::chrono::seconds> retryAfter,
                       bool keepOrder = false) {
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
    if (retryAfter) return ReconcileResult::requeueAfter(*retryAfter);
    // A transient failure (the server unreachable, 5xx, a nonce refused twice) keeps the order
    // and takes the work queue's backoff; a refused or invalid order waits longer (AcmeBackoff).
    if (keepOrder) return ReconcileResult::retry(message);
    return ReconcileResult::requeueAfter(step_.services.backoff->failed(step_.storeKey));
  }

  ReconcileResult refused(const char* what, const acme::AcmeResponse& response) {
    const std::string type = response.problem ? response.problem->shortType() : "";
    const bool transient = response.status >= 500 || response.status == 429 ||
                           type == "rateLimited" || type == "badNonce";
    std::optional<std::chrono::seconds> after;
    if (response.retryAfter) after = retryAfterOr(response, kPollInterval);
    return fail(fmt::format("ACME {}: {}", what, response.failure().describe()), after,
                /*keepOrder=*/transient);
  }

  ReconcileResult placeOrder() {
    nlohmann::json identifiers = nlohmann::json::array();
    for (const std::string& name : names_)
      identifiers.push_back({{"type", "dns"}, {"value", name}});
    auto directory = account_->client->directory();
    if (!directory) return fail(directory.message(), std::nullopt);
    auto answer = post(directory->newOrder, nlohmann::json{{"identifiers", identifiers}});
    if (!answer) return fail("ACME newOrder: " + answer.message(), std::nullopt);
    if (!answer->ok()) return refused("newOrder", *answer);
    if (answer->location.empty())
      return fail("ACME newOrder answered without the order's Location", std::nullopt);
    api::AcmeOrderStatus order;
    order.url = answer->location;
    order.state = stringMember(answer->body, "status");
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
      // Expired and forgotten by the server: place another.
      dropOrder();
      return ReconcileResult::requeueAfter(std::chrono::seconds(0));
    }
    if (!answer->ok()) return refused("order", *answer);
    const nlohmann::json& body = answer->body;
    order.state = stringMember(body, "status");
    if (order.state == "invalid") return invalidOrder(body);
    if (order.state == "pending") return authorize(body);
    if (order.state == "ready") return finalize(body);
    if (order.state == "processing") return progress(retryAfterOr(*answer, kPollInterval));
    if (order.state == "valid") return download(body);
    return fail(fmt::format("ACME order {} has an unknown status \"{}\"", order.url, order.state),
                std::nullopt);
  }

  // The problem of an invalid order: its own error, else the failed challenges'.
  ReconcileResult invalidOrder(const nlohmann::json& body) {
    std::string message;
    if (auto problem = acme::parseProblem(body.value("error", nlohmann::json())))
      message = problem->describe();
    for (const auto& authorization : status_.acmeOrder->authorizations) {
      if (authorization.state != "invalid") continue;
      auto fetched = post(authorization.url, std::nullopt);
      if (!fetched || !fetched->ok()) continue;
      for (const auto& challenge : fetched->body.value("challenges", nlohmann::json::array())) {
        if (auto problem = acme::parseProblem(challenge.value("error", nlohmann::json())))
          message += (message.empty() ? "" : "; ") +
                     fmt::format("{} {}: {}", authorization.identifier,
                                 stringMember(challenge, "type"), problem->describe());
      }
    }
    if (message.empty()) message = "the ACME server marked the order invalid";
    return fail(fmt::format("ACME order {} is invalid: {}", status_.acmeOrder->url, message),
                std::nullopt);
  }

  ReconcileResult authorize(const nlohmann::json& body) {
    auto& order = *status_.acmeOrder;
    std::vector<api::AcmeAuthorizationStatus> seen;
    const auto urls = body.value("authorizations", nlohmann::json::array());
    for (const auto& url : urls) {
      if (!url.is_string()) continue;
      auto fetched = post(url.get<std::string>(), std::nullopt);
      if (!fetched) return fail("ACME authorization: " + fetched.message(), std::nullopt, true);
      if (!fetched->ok()) return refused("authorization", *fetched);
      api::AcmeAuthorizationStatus authorization;
      authorization.url = url.get<std::string>();
      authorization.state = stringMember(fetched->body, "status");
      const std::string value =
          stringMember(fetched->body.value("identifier", nlohmann::json()), "value");
      const bool wildcard = fetched->body.value("wildcard", false);
      authorization.identifier = wildcard ? "*." + value : value;
      if (authorization.state == "pending") {
        if (auto refusal = answer(authorization, value, fetched->body)) return *refusal;
      }
      seen.push_back(std::move(authorization));
    }
    order.authorizations = std::move(seen);
    for (const auto& authorization : order.authorizations)
      if (authorization.state == "invalid") {
        order.state = "invalid";
        return invalidOrder(body);
      }
    return progress(kPollInterval);
  }

  // Answers one pending authorization with its solver's challenge; a refusal when it cannot.
  std::optional<ReconcileResult> answer(api::AcmeAuthorizationStatus& authorization,
                                        const std::string& host, const nlohmann::json& body) {
    const api::AcmeSolver* solver = solverFor(step_.issuer, authorization.identifier);
    if (!solver)
      return fail(
          fmt::format("Issuer {} has no solver for {}", step_.issuerRef, authorization.identifier),
          std::nullopt);
    const char* type = challengeTypeName(solver->type);
    authorization.challenge = type;
    const nlohmann::json* chosen = nullptr;
    if (auto challenges = body.find("challenges");
        challenges != body.end() && challenges->is_array())
      for (const auto& challenge : *challenges)
        if (stringMember(challenge, "type") == type) chosen = &challenge;
    if (!chosen)
      return fail(fmt::format("the ACME server offers no {} challenge for {}", type,
                              authorization.identifier),
                  std::nullopt);
    const std::string token = stringMember(*chosen, "token");
    auto keyAuthorization = acme::keyAuthorization(account_->key, token);
    if (!keyAuthorization) return fail(keyAuthorization.message(), std::nullopt);
    const bool https = solver->type == api::AcmeChallengeType::kTlsAlpn01;
    if (https) {
      if (Status placed = placeTlsAlpn01(host, *keyAuthorization); !placed)
        return fail("the tls-alpn-01 certificate: " + placed.message(), std::nullopt);
    } else {
      step_.services.challenges->setHttp01(step_.storeKey, host, token, *keyAuthorization);
    }
    if (step_.services.listensFor && !step_.services.listensFor(host, https)) {
      authorization.challenge +=
          https ? ", waiting for an https listener to open (one opens once a binding on it has a "
                  "certificate: use http01 for the first certificate of a port of its own)"
                : ", waiting for an http binding of " + host + " to listen";
      return std::nullopt;
    }
    if (stringMember(*chosen, "status") != "pending") return std::nullopt;  // already told
    auto told = post(stringMember(*chosen, "url"), nlohmann::json::object());
    if (!told) return fail("ACME challenge: " + told.message(), std::nullopt, true);
    if (!told->ok()) return refused("challenge", *told);
    logger("controller.acme")
        ->info("acme_challenge_answered key={}/{} name={} type={}", CertificateReconciler::kKind,
               step_.storeKey, authorization.identifier, type);
    return std::nullopt;
  }

  // The challenge certificate for `host` handed to the data plane, unless it has it already.
  Status placeTlsAlpn01(const std::string& host, const std::string& keyAuthorization) {
    const std::string digest = certs::sha256(keyAuthorization);
    if (step_.services.challenges->hasTlsAlpn01(host, digest)) return Status::ok();
    auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa, 256);
    if (!key) return key.status();
    auto certificate = certs::issueAcmeChallengeCertificate(host, digest, *key, step_.now);
    if (!certificate) return certificate.status();
    tls::ServerContextOptions options;
    options.name = step_.storeKey + " tls-alpn-01 " + host;
    options.certificateChainPem = certificate->toPem();
    options.privateKeyPem = key->toPem();
    auto context = tls::ServerContext::create(options);
    if (!context) return context.status();
    step_.services.challenges->setTlsAlpn01(step_.storeKey, host, digest, std::move(*context));
    return Status::ok();
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
    for (const auto& dir :
         {step_.services.pendingKeys.parent_path(), step_.services.pendingKeys, path.parent_path()})
      if (Status made = durable::makeDirectory(dir, 0700); !made) return made;
    std::filesystem::path temp = path;
    temp += ".tmp";
    if (Status written = durable::replaceFile(path, temp, key->toPem(), 0600); !written)
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
    status_.acmeOrder->state = stringMember(finalized->body, "status");
    return progress(retryAfterOr(*finalized, kPollInterval));
  }

  // The chain at `url`, leaf first.
  Result<std::vector<certs::Certificate>> fetchChain(const std::string& url,
                                                     acme::AcmeResponse* response) {
    auto fetched = post(url, std::nullopt);
    if (!fetched) return fetched.status();
    if (!fetched->ok())
      return Status::error("ACME certificate download: " + fetched->failure().describe());
    if (response) *response = *fetched;
    return certs::Certificate::chainFromPem(fetched->rawBody);
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
    for (auto it = from; it != to; ++it) {
      auto alternate = fetchChain(it->second, nullptr);
      if (alternate && !alternate->empty() &&
          topIssuerCommonName(*alternate) == step_.issuer.preferredChain)
        return alternate;
    }
    return chain;
  }

  ReconcileResult download(const nlohmann::json& body) {
    auto key = orderKey(/*create=*/false);
    if (!key) {
      // Finalized with a key this replica does not have (another one finalized, or the file
      // was lost): the certificate is of no use, order another.
      dropOrder();
      return fail("the finalized order's private key is not here; ordering again", std::nullopt);
    }
    auto chain = preferredChain(stringMember(body, "certificate"));
    if (!chain) return fail(chain.message(), std::nullopt, true);
    if (chain->empty() || !key->matches(chain->front()))
      return fail("the ACME server's certificate is not for the order's key", std::nullopt);
    certs::CertificateBundle bundle{std::move(*chain), *key};
    Status stored = step_.store(bundle);
    if (!stored) return ReconcileResult::retry("certificate store: " + stored.message());
    const std::string orderUrl = status_.acmeOrder->url;
    abandonAcmeOrder(step_.services, step_.storeKey);
    step_.services.backoff->succeeded(step_.storeKey);
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
};

}  // namespace

std::chrono::seconds AcmeBackoff::failed(const std::string& storeKey) {
  std::lock_guard lock(mutex_);
  const int failures = std::min(++failures_[storeKey], 10);
  return std::min(std::chrono::seconds(10) * (1 << (failures - 1)), std::chrono::seconds(3600));
}

void AcmeBackoff::succeeded(const std::string& storeKey) {
  std::lock_guard lock(mutex_);
  failures_.erase(storeKey);
}

ReconcileResult advanceAcmeOrder(AcmeOrderStep& step) { return OrderWalk(step).run(); }

void abandonAcmeOrder(const AcmeServices& services, const std::string& storeKey) {
  if (services.challenges) services.challenges->removeOwner(storeKey);
  if (services.pendingKeys.empty() || storeKey.find('/') == std::string::npos) return;
  std::error_code ignored;
  std::filesystem::remove(pendingKeyPath(services, storeKey), ignored);
}

}  // namespace siteplane::reconcile

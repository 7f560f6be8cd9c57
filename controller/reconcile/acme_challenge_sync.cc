#include "controller/reconcile/acme_challenge_sync.h"

#include <chrono>
#include <exception>
#include <vector>

#include "common/json_fields.h"
#include "common/logging.h"
#include "controller/certs/issuance.h"
#include "controller/certs/jose_signing.h"
#include "controller/certs/private_key.h"
#include "dataplane/tls/server_context.h"

namespace siteplane::reconcile {
namespace {

// The RFC 8737 challenge certificate for `host`, in a context of its own.
Result<std::shared_ptr<const tls::ServerContext>> challengeContext(const std::string& host,
                                                                   const std::string& digest) {
  auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa, 256);
  if (!key) return key.status();
  auto certificate =
      certs::issueAcmeChallengeCertificate(host, digest, *key, std::chrono::system_clock::now());
  if (!certificate) return certificate.status();
  tls::ServerContextOptions options;
  options.name = "tls-alpn-01 " + host;
  options.certificateChainPem = certificate->toPem();
  options.privateKeyPem = key->toPem();
  return tls::ServerContext::create(options);
}

}  // namespace

void AcmeChallengeSync::observe(const store::WatchEvent& event) noexcept {
  if (event.key.kind != "Certificate") return;
  try {
    const std::string owner = event.key.ns + "/" + event.key.name;
    apply(owner, event.type == store::WatchEvent::Type::kDeleted || !event.object
                     ? nullptr
                     : event.object.get());
  } catch (const std::exception& error) {
    logger("controller.acme")
        ->warn("acme_challenges_not_synced key={} error=\"{}\"", event.key.toString(),
               error.what());
  }
}

uint64_t AcmeChallengeSync::applyAll(const store::Store& store) noexcept {
  uint64_t version = 0;
  try {
    const store::ObjectList list = store.list({"Certificate", std::nullopt, {}});
    version = list.resourceVersion;
    for (const auto& object : list.items) {
      const nlohmann::json* metadata = memberOf(*object, "metadata");
      if (!metadata) continue;
      apply(stringMember(*metadata, "namespace") + "/" + stringMember(*metadata, "name"),
            object.get());
    }
  } catch (const std::exception& error) {
    logger("controller.acme")->warn("acme_challenges_not_synced error=\"{}\"", error.what());
  }
  return version;
}

void AcmeChallengeSync::apply(const std::string& owner, const nlohmann::json* certificate) {
  std::vector<table::Http01Answer> http01;
  std::vector<table::TlsAlpn01Answer> tlsAlpn01;
  const nlohmann::json* status = certificate ? memberOf(*certificate, "status") : nullptr;
  const nlohmann::json* acme = status ? memberOf(*status, "acme") : nullptr;
  const nlohmann::json* order = acme ? memberOf(*acme, "order") : nullptr;
  const nlohmann::json* authorizations = order ? memberOf(*order, "authorizations") : nullptr;
  if (authorizations && authorizations->is_array()) {
    for (const auto& authorization : *authorizations) {
      const std::string token = stringMember(authorization, "token");
      const std::string keyAuthorization = stringMember(authorization, "keyAuthorization");
      const std::string host = stringMember(authorization, "identifier");
      if (stringMember(authorization, "state") != "pending" || token.empty() ||
          keyAuthorization.empty() || host.empty() || host.rfind("*.", 0) == 0)
        continue;
      const std::string type = stringMember(authorization, "challenge");
      if (type == "http-01") {
        http01.push_back({host, token, keyAuthorization});
      } else if (type == "tls-alpn-01") {
        const std::string digest = certs::sha256(keyAuthorization);
        auto context = answers_->tlsAlpn01Of(owner, host, digest);
        if (!context) {
          auto built = challengeContext(host, digest);
          if (!built) {
            logger("controller.acme")
                ->warn("acme_tls_alpn01_not_built owner={} host={} error=\"{}\"", owner, host,
                       built.message());
            continue;
          }
          context = std::move(*built);
        }
        tlsAlpn01.push_back({host, digest, std::move(context)});
      }
    }
  }
  answers_->replace(owner, std::move(http01), std::move(tlsAlpn01));
}

}  // namespace siteplane::reconcile

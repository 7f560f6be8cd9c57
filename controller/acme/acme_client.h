#pragma once

// An RFC 8555 client: the directory, nonces, JWS-signed requests and account registration. The
// order flow (orders, authorizations, challenges, finalize, download) is built on post() by
// acme/order.h. Blocking calls, meant for reconcile worker threads.
//
//   auto client = AcmeClient::create({.directoryUrl = url, .caBundle = pem});
//   auto account = (*client)->registerAccount(key, {.email = "ops@example.com"});
//   // account->location is the account URL ("kid") for every later post()
//   auto order = (*client)->post(key, account->location, newOrderUrl, payload);
//
// Thread-safety: any thread. Nonces are pooled per client; a badNonce answer is retried once with
// a fresh nonce, as RFC 8555 §6.5 asks of clients.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/acme/https_transport.h"
#include "controller/certs/private_key.h"

namespace siteplane::acme {

// An RFC 7807 problem document as ACME sends it (RFC 8555 §6.7).
struct Problem {
  struct Subproblem {
    std::string type;
    std::string detail;
    std::string identifier;  // the identifier's value ("www.example.com"), "" when none
  };
  std::string type;  // "urn:ietf:params:acme:error:rejectedIdentifier"
  std::string detail;
  int status = 0;
  std::vector<Subproblem> subproblems;

  // The ACME error name without the URN prefix ("badNonce"); the whole type for other URNs.
  std::string shortType() const;
  // Type, detail and every subproblem, verbatim, for conditions, Events and logs:
  // "urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order [www.a.test:
  // urn:ietf:params:acme:error:caa: CAA record forbids issuance]".
  std::string describe() const;
};

// A problem document from a JSON value; nullopt when it is not one (no string "type").
std::optional<Problem> parseProblem(const nlohmann::json& value);

struct AcmeResponse {
  long status = 0;
  nlohmann::json body;  // the parsed JSON body; null for other content (a certificate chain)
  std::string rawBody;  // as received
  std::string contentType;
  std::string location;  // the Location header
  // Link headers by relation ("up", "alternate", "index").
  std::multimap<std::string, std::string> links;
  // Retry-After in seconds (delta or HTTP date), when sent.
  std::optional<std::chrono::seconds> retryAfter;
  std::optional<Problem> problem;  // set for an error answer that carries a problem document

  bool ok() const { return status >= 200 && status < 300; }
  // The problem, or one made of the HTTP status for an error without one.
  Problem failure() const;
};

struct Directory {
  std::string newNonce;
  std::string newAccount;
  std::string newOrder;
  std::string termsOfService;  // meta.termsOfService, "" when none
  bool externalAccountRequired = false;
};

// RFC 8555 §7.3.4: the CA's key identifier and the HMAC key (raw bytes) it handed out.
struct ExternalAccountBinding {
  std::string keyId;
  std::string hmacKey;
};

struct AccountRequest {
  std::string email;  // "" for none
  std::optional<ExternalAccountBinding> externalAccountBinding;
};

struct AcmeClientOptions {
  std::string directoryUrl;
  std::string caBundle;  // PEM trusted for the ACME server's TLS; empty: the system roots
  std::chrono::seconds timeout{30};
};

class AcmeClient {
 public:
  static Result<std::unique_ptr<AcmeClient>> create(AcmeClientOptions options);
  AcmeClient(const AcmeClient&) = delete;
  AcmeClient& operator=(const AcmeClient&) = delete;

  const AcmeClientOptions& options() const { return options_; }

  // Fetched on first use and kept; a failure is not kept.
  Result<Directory> directory();

  // newAccount with termsOfServiceAgreed (RFC 8555 §7.3), signed with the account key's JWK; an
  // account that exists for the key answers 200 with it. The response's `location` is the
  // account URL. An error answer is a response with its problem, not an error Status.
  Result<AcmeResponse> registerAccount(const certs::PrivateKey& key, const AccountRequest& request);

  // A request signed with the account URL as "kid". `payload` nullopt is POST-as-GET (§6.3).
  Result<AcmeResponse> post(const certs::PrivateKey& key, const std::string& accountUrl,
                            const std::string& url, const std::optional<nlohmann::json>& payload);

 private:
  explicit AcmeClient(AcmeClientOptions options)
      : options_(std::move(options)),
        transport_({.caBundle = options_.caBundle, .timeout = options_.timeout}) {}

  Result<std::string> takeNonce();
  void keepNonce(const HttpsResponse& response);
  // Signs and sends, with one retry on badNonce. `keyMembers`: the "jwk" or "kid" header member.
  Result<AcmeResponse> signedPost(const certs::PrivateKey& key, const std::string& url,
                                  const nlohmann::json& keyMembers, const std::string& payload);

  const AcmeClientOptions options_;
  const HttpsTransport transport_;
  std::mutex mutex_;  // guards the two below
  std::optional<Directory> directory_;
  std::vector<std::string> nonces_;
};

// RFC 7638 thumbprint of the account key's JWK, base64url: the second half of a key
// authorization.
Result<std::string> jwkThumbprint(const certs::PrivateKey& key);
// The public JWK as a JSON object.
Result<nlohmann::json> publicJwk(const certs::PrivateKey& key);
// token "." thumbprint (RFC 8555 §8.1).
Result<std::string> keyAuthorization(const certs::PrivateKey& key, const std::string& token);

}  // namespace siteplane::acme

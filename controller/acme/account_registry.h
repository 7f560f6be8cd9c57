#pragma once

// The ACME accounts of the Issuers: one account key per Issuer, generated on first use (ECDSA
// P-256) and kept in <state>/acme/accounts/<namespace>/<name>.key (0600, never logged), and its
// registration with the Issuer's server, done once per server, email and CA bundle and then kept
// in memory. After a restart the same key registers again, which an ACME server answers with the
// existing account (RFC 8555 §7.3.1), so no account is created twice.
//
// Thread-safety: any thread. Registrations of different Issuers run concurrently; two callers for
// one Issuer both register (the server answers both with the same account).

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/acme/acme_client.h"
#include "controller/api/issuer.h"
#include "controller/certs/private_key.h"

namespace siteplane::acme {

struct AcmeAccount {
  std::shared_ptr<AcmeClient> client;
  certs::PrivateKey key;
  std::string url;    // the account URL: the "kid" of every request
  std::string email;  // as registered
  // Per solver of the Issuer (by index), the TSIG secret of a dns01.rfc2136 solver ("" for
  // others); read by the Issuer reconciler, never logged.
  std::vector<std::string> tsigSecrets;
};

class AccountRegistry {
 public:
  // `directory` is created (0700) on first use.
  explicit AccountRegistry(std::filesystem::path directory) : directory_(std::move(directory)) {}

  // The registered account of Issuer `issuerKey` ("namespace/name") with `spec`, registering it
  // when it is not yet (or the spec's server, email or caBundle changed). A refusal by the server
  // is an error whose message is its problem document, verbatim; kUnavailable when it could not
  // be reached or answered 5xx/429, so a caller retries with backoff.
  // `binding`: the external account binding with its key read (spec.externalAccountBinding).
  // `tsigSecrets`: AcmeAccount::tsigSecrets, kept with the account (and replaced when they
  // change, without registering again).
  Result<std::shared_ptr<const AcmeAccount>> account(
      const std::string& issuerKey, const api::AcmeIssuer& spec,
      const std::optional<ExternalAccountBinding>& binding,
      std::vector<std::string> tsigSecrets = {});
  // The account account() registered for this spec, without any request; kNotFound when there
  // is none yet (the Issuer reconciler registers it).
  Result<std::shared_ptr<const AcmeAccount>> registered(const std::string& issuerKey,
                                                        const api::AcmeIssuer& spec);
  // Forgets the Issuer's registration (it was deleted); its key file stays, so recreating the
  // Issuer finds the same account.
  void forget(const std::string& issuerKey);
  // Called (outside the registry's lock) with the Issuer key whenever forget() drops a
  // registration, so that the Issuer registers again. Set once, before use.
  void onForget(std::function<void(const std::string& issuerKey)> listener) {
    onForget_ = std::move(listener);
  }

 private:
  Result<certs::PrivateKey> loadOrCreateKey(const std::string& issuerKey);
  static std::string settingsOf(const api::AcmeIssuer& spec);

  const std::filesystem::path directory_;
  std::function<void(const std::string&)> onForget_;
  std::mutex mutex_;  // guards accounts_ and key creation
  // By issuer key: the settings registered with, and the account.
  std::map<std::string, std::pair<std::string, std::shared_ptr<const AcmeAccount>>> accounts_;
};

}  // namespace siteplane::acme

#include "controller/acme/account_registry.h"

#include <fmt/format.h>

#include <system_error>

#include "common/durable_file.h"
#include "common/logging.h"

namespace siteplane::acme {

std::string AccountRegistry::settingsOf(const api::AcmeIssuer& spec) {
  return spec.server + '\n' + spec.email + '\n' + spec.caBundle + '\n' +
         (spec.externalAccountBinding ? spec.externalAccountBinding->keyID : "");
}

Result<std::shared_ptr<const AcmeAccount>> AccountRegistry::registered(
    const std::string& issuerKey, const api::AcmeIssuer& spec) {
  std::lock_guard lock(mutex_);
  auto known = accounts_.find(issuerKey);
  if (known == accounts_.end() || known->second.first != settingsOf(spec))
    return Status::error(ErrorCode::kNotFound,
                         "the ACME account of Issuer " + issuerKey + " is not registered yet");
  return known->second.second;
}

Result<certs::PrivateKey> AccountRegistry::loadOrCreateKey(const std::string& issuerKey) {
  const size_t slash = issuerKey.find('/');
  if (slash == std::string::npos) return Status::error("invalid Issuer key " + issuerKey);
  const std::filesystem::path dir = directory_ / issuerKey.substr(0, slash);
  const std::filesystem::path path = dir / (issuerKey.substr(slash + 1) + ".key");
  std::error_code error;
  if (std::filesystem::exists(path, error)) {
    auto pem = durable::readFile(path);
    if (!pem) return pem.status();
    auto key = certs::PrivateKey::fromPem(*pem);
    if (!key) return std::move(key).status().withContext("ACME account key " + path.string());
    return key;
  }
  auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa, 256);
  if (!key) return key.status();
  if (Status written = durable::writePrivateFile(directory_.parent_path(), path, key->toPem());
      !written)
    return written;
  logger("controller.acme")
      ->info("acme_account_key_created issuer={} path={}", issuerKey, path.string());
  return key;
}

Result<std::shared_ptr<const AcmeAccount>> AccountRegistry::account(
    const std::string& issuerKey, const api::AcmeIssuer& spec,
    const std::optional<ExternalAccountBinding>& binding, std::vector<std::string> tsigSecrets) {
  const std::string settings = settingsOf(spec);
  Result<certs::PrivateKey> key = Status::error("unset");
  {
    std::lock_guard lock(mutex_);
    if (auto known = accounts_.find(issuerKey);
        known != accounts_.end() && known->second.first == settings) {
      if (known->second.second->tsigSecrets != tsigSecrets) {
        auto updated = std::make_shared<AcmeAccount>(*known->second.second);
        updated->tsigSecrets = std::move(tsigSecrets);
        known->second.second = updated;
      }
      return known->second.second;
    }
    key = loadOrCreateKey(issuerKey);
  }
  if (!key) return key.status();
  auto client = AcmeClient::create({.directoryUrl = spec.server,
                                    .caBundle = spec.caBundle,
                                    .timeout = std::chrono::seconds(30)});
  if (!client) return client.status();
  auto directory = (*client)->directory();
  if (!directory) return directory.status();
  if (directory->externalAccountRequired && !binding)
    return Status::error(ErrorCode::kInvalid,
                         "the ACME server requires an external account binding: set "
                         "spec.acme.externalAccountBinding (keyID and keyFile from the CA)");
  auto answer =
      (*client)->registerAccount(*key, {.email = spec.email, .externalAccountBinding = binding});
  if (!answer) return answer.status();
  if (!answer->ok()) {
    const Problem problem = answer->failure();
    const bool transient = answer->status >= 500 || answer->status == 429;
    return Status::error(transient ? ErrorCode::kUnavailable : ErrorCode::kInvalid,
                         "ACME account registration: " + problem.describe());
  }
  if (answer->location.empty())
    return Status::error(
        ErrorCode::kUnavailable,
        fmt::format("ACME newAccount answered {} without a Location", answer->status));
  auto account = std::make_shared<AcmeAccount>(
      AcmeAccount{std::shared_ptr<AcmeClient>(std::move(*client)), *key, answer->location,
                  spec.email, std::move(tsigSecrets)});
  logger("controller.acme")
      ->info("acme_account_registered issuer={} server={} account={} new={}", issuerKey,
             spec.server, account->url, answer->status == 201);
  std::lock_guard lock(mutex_);
  accounts_[issuerKey] = {settings, account};
  return std::shared_ptr<const AcmeAccount>(account);
}

void AccountRegistry::forget(const std::string& issuerKey) {
  bool dropped = false;
  {
    std::lock_guard lock(mutex_);
    dropped = accounts_.erase(issuerKey) > 0;
  }
  if (dropped && onForget_) onForget_(issuerKey);
}

}  // namespace siteplane::acme

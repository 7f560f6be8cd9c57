#include "controller/acme/acme_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "common/json_bounds.h"
#include "common/json_fields.h"
#include "controller/certs/jose_signing.h"

namespace siteplane::acme {
namespace {

constexpr std::string_view kErrorUrn = "urn:ietf:params:acme:error:";
constexpr const char* kJoseJson = "application/jose+json";
// ACME bodies are shallow; a deeper one is refused before it is built.
constexpr int kMaxBodyDepth = 32;
// Nonces kept for later requests; the server hands out one per answer.
constexpr size_t kMaxPooledNonces = 16;

// Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
std::optional<std::chrono::seconds> parseRetryAfter(const std::string& value) {
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string::npos && value.size() < 9)
    return std::chrono::seconds(std::stol(value));
  std::tm parts{};
  if (!strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts)) return std::nullopt;
  // In time_t seconds: a date centuries away would overflow the clock's nanoseconds. Callers cap
  // the wait far below a year anyway.
  constexpr std::time_t kYear = 366 * 24 * 3600;
  const std::time_t delta = timegm(&parts) - std::time(nullptr);
  return std::chrono::seconds(std::clamp<std::time_t>(delta, 0, kYear));
}

// `<url>;rel="alternate", <url2>;rel="up"` (RFC 8288), as far as ACME uses it.
void parseLinks(const std::vector<std::string>& values,
                std::multimap<std::string, std::string>& links) {
  for (const std::string& value : values) {
    size_t position = 0;
    while ((position = value.find('<', position)) != std::string::npos) {
      const size_t end = value.find('>', position);
      if (end == std::string::npos) break;
      std::string url = value.substr(position + 1, end - position - 1);
      const size_t next = value.find('<', end);
      std::string parameters =
          value.substr(end + 1, next == std::string::npos ? std::string::npos : next - end - 1);
      const size_t rel = parameters.find("rel=");
      if (rel != std::string::npos) {
        std::string relation = parameters.substr(rel + 4);
        relation = relation.substr(0, relation.find_first_of(";,"));
        if (!relation.empty() && relation.front() == '"') relation.erase(0, 1);
        if (!relation.empty() && relation.back() == '"') relation.pop_back();
        links.emplace(relation, url);
      }
      position = end;
    }
  }
}

AcmeResponse toAcmeResponse(HttpsResponse&& http) {
  AcmeResponse response;
  response.status = http.status;
  response.contentType = http.header("content-type");
  response.location = http.header("location");
  response.retryAfter = parseRetryAfter(http.header("retry-after"));
  if (auto links = http.headers.find("link"); links != http.headers.end())
    parseLinks(links->second, response.links);
  response.rawBody = std::move(http.body);
  if (response.contentType.find("json") != std::string::npos && !response.rawBody.empty()) {
    auto parsed = parseJsonBounded(response.rawBody, "the ACME answer", kMaxBodyDepth);
    if (parsed) response.body = std::move(*parsed);
  }
  if (!response.ok()) response.problem = parseProblem(response.body);
  return response;
}

std::string jwsPart(std::string_view text) { return certs::base64UrlEncode(text); }

// RFC 8555 §6.5.1: a nonce is base64url; anything else is ignored, never echoed into a request.
bool isNonce(const std::string& nonce) {
  return !nonce.empty() && nonce.size() <= 256 &&
         nonce.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
             std::string::npos;
}

}  // namespace

std::string Problem::shortType() const {
  return type.rfind(kErrorUrn, 0) == 0 ? type.substr(kErrorUrn.size()) : type;
}

std::string Problem::describe() const {
  std::string out = type.empty() ? "ACME error" : type;
  if (!detail.empty()) out += ": " + detail;
  for (const Subproblem& sub : subproblems) {
    out += " [";
    if (!sub.identifier.empty()) out += sub.identifier + ": ";
    out += sub.type;
    if (!sub.detail.empty()) out += ": " + sub.detail;
    out += "]";
  }
  return out;
}

std::optional<Problem> parseProblem(const nlohmann::json& value) {
  if (!value.is_object() || !value.contains("type") || !value["type"].is_string())
    return std::nullopt;
  Problem problem;
  problem.type = stringMember(value, "type");
  problem.detail = stringMember(value, "detail");
  if (auto status = value.find("status"); status != value.end() && status->is_number_integer())
    problem.status = status->get<int>();
  if (auto subs = value.find("subproblems"); subs != value.end() && subs->is_array()) {
    for (const auto& sub : *subs) {
      Problem::Subproblem entry{stringMember(sub, "type"), stringMember(sub, "detail"), ""};
      if (sub.is_object() && sub.contains("identifier"))
        entry.identifier = stringMember(sub["identifier"], "value");
      problem.subproblems.push_back(std::move(entry));
    }
  }
  return problem;
}

Problem AcmeResponse::failure() const {
  if (problem) return *problem;
  Problem made;
  made.type = fmt::format("HTTP {}", status);
  made.detail = rawBody.substr(0, 200);
  made.status = static_cast<int>(status);
  return made;
}

Result<nlohmann::json> publicJwk(const certs::PrivateKey& key) {
  auto members = certs::publicJwkMembers(key);
  if (!members) return members.status();
  nlohmann::json jwk = nlohmann::json::object();
  for (const auto& [name, value] : *members) jwk[name] = value;
  return jwk;
}

Result<std::string> jwkThumbprint(const certs::PrivateKey& key) {
  auto jwk = publicJwk(key);
  if (!jwk) return jwk.status();
  // nlohmann orders object members lexicographically and dump() adds no whitespace: exactly the
  // canonical form RFC 7638 §3 hashes.
  return certs::base64UrlEncode(certs::sha256(jwk->dump()));
}

Result<std::string> keyAuthorization(const certs::PrivateKey& key, const std::string& token) {
  auto thumbprint = jwkThumbprint(key);
  if (!thumbprint) return thumbprint.status();
  return token + "." + *thumbprint;
}

Result<std::unique_ptr<AcmeClient>> AcmeClient::create(AcmeClientOptions options) {
  if (options.directoryUrl.rfind("https://", 0) != 0)
    return Status::error(ErrorCode::kInvalid, "the ACME directory URL must be https, got \"" +
                                                  options.directoryUrl + "\"");
  return std::unique_ptr<AcmeClient>(new AcmeClient(std::move(options)));
}

Result<Directory> AcmeClient::directory() {
  {
    std::lock_guard lock(mutex_);
    if (directory_) return *directory_;
  }
  auto fetched = transport_.get(options_.directoryUrl);
  if (!fetched) return std::move(fetched).status().withContext("ACME directory");
  AcmeResponse response = toAcmeResponse(std::move(*fetched));
  if (!response.ok() || !response.body.is_object())
    return Status::error(ErrorCode::kUnavailable,
                         fmt::format("ACME directory {}: {}", options_.directoryUrl,
                                     response.ok() ? "the answer is not a JSON object"
                                                   : response.failure().describe()));
  Directory directory;
  directory.newNonce = stringMember(response.body, "newNonce");
  directory.newAccount = stringMember(response.body, "newAccount");
  directory.newOrder = stringMember(response.body, "newOrder");
  if (auto meta = response.body.find("meta"); meta != response.body.end() && meta->is_object()) {
    directory.termsOfService = stringMember(*meta, "termsOfService");
    auto eab = meta->find("externalAccountRequired");
    directory.externalAccountRequired = eab != meta->end() && eab->is_boolean() && eab->get<bool>();
  }
  if (directory.newNonce.empty() || directory.newAccount.empty() || directory.newOrder.empty())
    return Status::error(ErrorCode::kUnavailable,
                         fmt::format("ACME directory {} lacks newNonce, newAccount or newOrder",
                                     options_.directoryUrl));
  std::lock_guard lock(mutex_);
  directory_ = directory;
  return directory;
}

Result<std::string> AcmeClient::takeNonce() {
  {
    std::lock_guard lock(mutex_);
    if (!nonces_.empty()) {
      std::string nonce = std::move(nonces_.back());
      nonces_.pop_back();
      return nonce;
    }
  }
  auto directory = this->directory();
  if (!directory) return directory.status();
  auto answer = transport_.head(directory->newNonce);
  if (!answer) return std::move(answer).status().withContext("ACME newNonce");
  std::string nonce = answer->header("replay-nonce");
  if (!isNonce(nonce))
    return Status::error(ErrorCode::kUnavailable,
                         fmt::format("ACME newNonce {} answered {} without a Replay-Nonce",
                                     directory->newNonce, answer->status));
  return nonce;
}

void AcmeClient::keepNonce(const HttpsResponse& response) {
  const std::string& nonce = response.header("replay-nonce");
  if (!isNonce(nonce)) return;
  std::lock_guard lock(mutex_);
  if (nonces_.size() < kMaxPooledNonces) nonces_.push_back(nonce);
}

Result<AcmeResponse> AcmeClient::signedPost(const certs::PrivateKey& key, const std::string& url,
                                            const nlohmann::json& keyMembers,
                                            const std::string& payload) {
  auto algorithm = certs::joseAlgorithm(key);
  if (!algorithm) return algorithm.status();
  for (int attempt = 0;; ++attempt) {
    auto nonce = takeNonce();
    if (!nonce) return nonce.status();
    nlohmann::json header = keyMembers;
    header["alg"] = *algorithm;
    header["nonce"] = *nonce;
    header["url"] = url;
    const std::string protectedPart = jwsPart(header.dump());
    const std::string payloadPart = jwsPart(payload);
    auto signature = certs::joseSign(key, protectedPart + "." + payloadPart);
    if (!signature) return signature.status();
    nlohmann::json jws = {{"protected", protectedPart},
                          {"payload", payloadPart},
                          {"signature", certs::base64UrlEncode(*signature)}};
    auto sent = transport_.post(url, jws.dump(), kJoseJson);
    if (!sent) return sent.status();
    keepNonce(*sent);
    AcmeResponse response = toAcmeResponse(std::move(*sent));
    if (attempt == 0 && response.problem && response.problem->shortType() == "badNonce") continue;
    return response;
  }
}

Result<AcmeResponse> AcmeClient::registerAccount(const certs::PrivateKey& key,
                                                 const AccountRequest& request) {
  auto directory = this->directory();
  if (!directory) return directory.status();
  auto jwk = publicJwk(key);
  if (!jwk) return jwk.status();
  nlohmann::json payload = {{"termsOfServiceAgreed", true}};
  if (!request.email.empty())
    payload["contact"] = nlohmann::json::array({"mailto:" + request.email});
  if (request.externalAccountBinding) {
    // RFC 8555 §7.3.4: the account's JWK, signed with the CA's MAC key under its key id.
    nlohmann::json inner = {{"alg", "HS256"},
                            {"kid", request.externalAccountBinding->keyId},
                            {"url", directory->newAccount}};
    const std::string protectedPart = jwsPart(inner.dump());
    const std::string payloadPart = jwsPart(jwk->dump());
    auto mac = certs::hmacSha256(request.externalAccountBinding->hmacKey,
                                 protectedPart + "." + payloadPart);
    if (!mac) return mac.status();
    payload["externalAccountBinding"] = {{"protected", protectedPart},
                                         {"payload", payloadPart},
                                         {"signature", certs::base64UrlEncode(*mac)}};
  }
  return signedPost(key, directory->newAccount, {{"jwk", *jwk}}, payload.dump());
}

Result<AcmeResponse> AcmeClient::post(const certs::PrivateKey& key, const std::string& accountUrl,
                                      const std::string& url,
                                      const std::optional<nlohmann::json>& payload) {
  return signedPost(key, url, {{"kid", accountUrl}}, payload ? payload->dump() : std::string());
}

}  // namespace siteplane::acme

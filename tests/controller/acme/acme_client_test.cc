#include "controller/acme/acme_client.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/certs/jose_signing.h"
#include "controller/reconcile/acme_challenge_sync.h"
#include "tests/support/test_support.h"

namespace siteplane::acme {
namespace {

using nlohmann::json;

TEST_CASE("An ACME problem document is described verbatim, with every subproblem",
          "[controller][acme]") {
  auto problem = parseProblem(json::parse(R"({
    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
    "detail": "Error creating new order",
    "status": 400,
    "subproblems": [
      {"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids issuance",
       "identifier": {"type": "dns", "value": "www.a.test"}},
      {"type": "urn:ietf:params:acme:error:malformed", "detail": "bad name"}
    ]})"));
  REQUIRE(problem);
  CHECK(problem->shortType() == "rejectedIdentifier");
  CHECK(problem->status == 400);
  CHECK(problem->describe() ==
        "urn:ietf:params:acme:error:rejectedIdentifier: Error creating new order "
        "[www.a.test: urn:ietf:params:acme:error:caa: CAA forbids issuance] "
        "[urn:ietf:params:acme:error:malformed: bad name]");
  // Anything that is not a problem document is none, whatever its shape.
  CHECK_FALSE(parseProblem(json::parse(R"({"detail": "no type"})")));
  CHECK_FALSE(parseProblem(json::parse(R"([1, 2])")));
  CHECK_FALSE(parseProblem(json(nullptr)));
  CHECK(parseProblem(json::parse(R"({"type": "x", "subproblems": "not a list"})")));
}

TEST_CASE("ES256 signatures are 64 bytes of R and S and verify with the account key",
          "[controller][acme]") {
  auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa, 256);
  REQUIRE(key.isOk());
  CHECK(certs::joseAlgorithm(*key).value() == "ES256");
  const std::string input = "eyJhbGciOiJFUzI1NiJ9.eyJ0ZXN0Ijp0cnVlfQ";
  auto signature = certs::joseSign(*key, input);
  REQUIRE(signature.isOk());
  REQUIRE(signature->size() == 64);
  // Back to DER, then OpenSSL's own verification.
  ECDSA_SIG* der = ECDSA_SIG_new();
  ECDSA_SIG_set0(
      der, BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()), 32, nullptr),
      BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()) + 32, 32, nullptr));
  unsigned char* encoded = nullptr;
  const int length = i2d_ECDSA_SIG(der, &encoded);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  REQUIRE(EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key->native()) == 1);
  CHECK(EVP_DigestVerify(context, encoded, static_cast<size_t>(length),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
  EVP_MD_CTX_free(context);
  OPENSSL_free(encoded);
  ECDSA_SIG_free(der);
}

TEST_CASE("The JWK thumbprint hashes the required members in order, without whitespace",
          "[controller][acme]") {
  auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa, 256);
  REQUIRE(key.isOk());
  auto jwk = publicJwk(*key);
  REQUIRE(jwk.isOk());
  CHECK(jwk->size() == 4);
  const std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" +
                                (*jwk)["x"].get<std::string>() + R"(","y":")" +
                                (*jwk)["y"].get<std::string>() + R"("})";
  CHECK(jwkThumbprint(*key).value() == certs::base64UrlEncode(certs::sha256(canonical)));
  CHECK(keyAuthorization(*key, "tok").value() == "tok." + jwkThumbprint(*key).value());
  // Ed25519 is no ACME account key.
  auto ed = certs::PrivateKey::generate(certs::KeyAlgorithm::kEd25519);
  REQUIRE(ed.isOk());
  CHECK_FALSE(certs::joseAlgorithm(*ed).isOk());
}

TEST_CASE("HMAC-SHA-256 and base64url are the RFC's", "[controller][acme]") {
  // RFC 4231 test case 2.
  auto mac = certs::hmacSha256("Jefe", "what do ya want for nothing?");
  REQUIRE(mac.isOk());
  CHECK(certs::base64UrlEncode(*mac) == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
  CHECK(certs::base64UrlEncode("\xfb\xff") == "-_8");
  CHECK(certs::base64UrlDecode("-_8").value() == "\xfb\xff");
  CHECK(certs::base64UrlDecode("-_8=").value() == "\xfb\xff");
  CHECK_FALSE(certs::base64UrlDecode("+/8").isOk());
}

TEST_CASE("Every replica answers the challenges its stored Certificates' status lists",
          "[controller][acme]") {
  siteplane::testing::TempDir state;
  auto store = store::Store::create(state.path());
  REQUIRE(store.isOk());
  auto answers = std::make_shared<table::ChallengeAnswers>();
  reconcile::AcmeChallengeSync sync(answers);
  auto subscription =
      (*store)->subscribe([&](const store::WatchEvent& event) { sync.observe(event); });
  json certificate = {{"apiVersion", "siteplane.io/v1alpha1"},
                      {"kind", "Certificate"},
                      {"metadata", {{"name", "web"}, {"namespace", "default"}}},
                      {"spec", {{"dnsNames", {"www.a.test"}}, {"issuerRef", {{"name", "acme"}}}}}};
  auto created = (*store)->createObject(certificate);
  REQUIRE(created.isOk());
  CHECK(answers->size() == 0);

  json withOrder = **created;
  withOrder["status"]["acme"]["order"] = {{"url", "https://ca.test/order/1"},
                                          {"state", "pending"},
                                          {"authorizations",
                                           {{{"identifier", "www.a.test"},
                                             {"url", "https://ca.test/authz/1"},
                                             {"state", "pending"},
                                             {"challenge", "http-01"},
                                             {"token", "tok1"},
                                             {"keyAuthorization", "tok1.thumb"}},
                                            {{"identifier", "api.a.test"},
                                             {"url", "https://ca.test/authz/2"},
                                             {"state", "valid"},
                                             {"challenge", "http-01"},
                                             {"token", "tok2"},
                                             {"keyAuthorization", "tok2.thumb"}},
                                            {{"identifier", "alpn.a.test"},
                                             {"url", "https://ca.test/authz/3"},
                                             {"state", "pending"},
                                             {"challenge", "tls-alpn-01"},
                                             {"token", "tok3"},
                                             {"keyAuthorization", "tok3.thumb"}}}}};
  auto updated = (*store)->updateStatus(withOrder);
  REQUIRE(updated.isOk());
  CHECK(answers->http01("www.a.test", "tok1") == "tok1.thumb");
  CHECK_FALSE(answers->http01("api.a.test", "tok2"));  // valid already: nothing to answer
  CHECK(answers->tlsAlpn01("alpn.a.test") != nullptr);

  // A replica that starts later finds them in its store.
  auto late = std::make_shared<table::ChallengeAnswers>();
  reconcile::AcmeChallengeSync lateSync(late);
  lateSync.applyAll(**store);
  CHECK(late->http01("www.a.test", "tok1") == "tok1.thumb");

  REQUIRE((*store)->removeObject({"Certificate", "default", "web"}).isOk());
  CHECK(answers->size() == 0);
}

}  // namespace
}  // namespace siteplane::acme

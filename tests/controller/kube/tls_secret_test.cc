// The kubernetes.io/tls Secret of a Certificate: written and read back, and what is refused.

#include "controller/kube/tls_secret.h"

#include <catch2/catch.hpp>

#include "common/base64.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/issuance.h"
#include "controller/certs/private_key.h"

namespace siteplane::kube {
namespace {

using nlohmann::json;

certs::CertificateBundle selfSigned(const std::string& host) {
  auto key = certs::PrivateKey::generate(certs::KeyAlgorithm::kEcdsa, 256);
  REQUIRE(key);
  certs::CertificateTemplate request;
  request.dnsNames = {host};
  request.validFor(std::chrono::system_clock::now(), std::chrono::hours(24));
  auto leaf = certs::issueSelfSigned(request, *key);
  REQUIRE(leaf);
  return certs::CertificateBundle{{*leaf}, *key};
}

json certificate(json spec = json::object()) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Certificate"},
          {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "u-1"}}},
          {"spec", std::move(spec)}};
}

TEST_CASE("A Certificate's Secret is owned, labelled and read back as the same bundle",
          "[controller][kube]") {
  auto bundle = selfSigned("web.shop.test");
  json secret = tlsSecretFor(certificate(), bundle);
  CHECK(secret["metadata"]["name"] == "web-tls");
  CHECK(secret["metadata"]["namespace"] == "shop");
  CHECK(secret["type"] == "kubernetes.io/tls");
  CHECK(secret["metadata"]["labels"][kCertificateLabel] == "web");
  const json& owner = secret["metadata"]["ownerReferences"][0];
  CHECK(owner["kind"] == "Certificate");
  CHECK(owner["uid"] == "u-1");
  CHECK(owner["controller"] == true);
  CHECK(*base64Decode(secret["data"]["ca.crt"].get<std::string>()) == bundle.chain[0].toPem());

  auto material = materialOf(secret);
  REQUIRE(material);
  CHECK(material->certificate.toString() == "Certificate/shop/web");
  CHECK(material->bundle.chain == bundle.chain);
  CHECK(material->bundle.key.toPem() == bundle.key.toPem());

  CHECK(tlsSecretFor(certificate({{"secretName", "web-cert"}}), bundle)["metadata"]["name"] ==
        "web-cert");
}

TEST_CASE("A Secret without the label, with broken data or another key is refused by name",
          "[controller][kube]") {
  auto bundle = selfSigned("web.shop.test");
  json secret = tlsSecretFor(certificate(), bundle);

  json unlabelled = secret;
  unlabelled["metadata"].erase("labels");
  CHECK_THAT(materialOf(unlabelled).message(),
             Catch::Contains("shop/web-tls") && Catch::Contains("does not name a Certificate"));

  json garbled = secret;
  garbled["data"]["tls.key"] = "%%%";
  CHECK_THAT(materialOf(garbled).message(), Catch::Contains("data.tls.key is not base64"));

  json missing = secret;
  missing["data"].erase("tls.crt");
  CHECK_THAT(materialOf(missing).message(), Catch::Contains("data.tls.crt is missing"));

  json otherKey = secret;
  otherKey["data"]["tls.key"] = base64Encode(selfSigned("x.test").key.toPem());
  auto refused = materialOf(otherKey);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.message(), Catch::Contains("Secret shop/web-tls"));
  CHECK_THAT(refused.message(), !Catch::Contains("PRIVATE KEY"));
}

}  // namespace
}  // namespace siteplane::kube

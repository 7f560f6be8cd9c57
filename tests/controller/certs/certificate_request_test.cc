#include "controller/certs/certificate_request.h"

#include "tests/controller/certs/certs_test_helpers.h"

namespace siteplane::certs {
namespace {
using namespace testing;
}  // namespace

TEST_CASE("createCertificateRequest makes a CSR that openssl req verifies", "[controller][certs]") {
  auto algorithm = GENERATE(KeyAlgorithm::kEcdsa, KeyAlgorithm::kRsa, KeyAlgorithm::kEd25519);
  CAPTURE(keyAlgorithmName(algorithm));
  auto key = valueOf(PrivateKey::generate(algorithm));
  CertificateTemplate request;
  request.commonName = "www.contoso.com";
  request.dnsNames = {"www.contoso.com", "contoso.com"};
  request.ipAddresses = {"192.0.2.10"};
  auto csr = valueOf(createCertificateRequest(request, key));
  CHECK(csr.rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0) == 0);

  auto verified = run({"openssl", "req", "-verify", "-noout", "-text"}, csr);
  REQUIRE(verified.exitCode == 0);
  CHECK(verified.err.find("verify OK") != std::string::npos);
  CHECK(verified.out.find("Subject: CN = www.contoso.com") != std::string::npos);
  CHECK(verified.out.find("DNS:www.contoso.com, DNS:contoso.com, IP Address:192.0.2.10") !=
        std::string::npos);
  CHECK(verified.out.find("TLS Web Server Authentication") != std::string::npos);

  // The CSR carries the key's public half.
  auto publicKey = run({"openssl", "req", "-noout", "-pubkey"}, csr);
  REQUIRE(publicKey.exitCode == 0);
  CHECK(publicKey.out == key.publicKeyPem());
}

TEST_CASE("createCertificateRequest refuses an invalid template", "[controller][certs]") {
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  CertificateTemplate request;
  request.dnsNames = {"bad_name.contoso.com"};
  auto csr = createCertificateRequest(request, key);
  REQUIRE_FALSE(csr.isOk());
  CHECK(csr.message() == "dnsNames[0]: 'bad_name.contoso.com' is not a valid DNS name");
}

}  // namespace siteplane::certs

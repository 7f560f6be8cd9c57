#include "controller/certs/certificate_import.h"

#include "controller/certs/import_path_policy.h"
#include "tests/controller/certs/certs_test_helpers.h"

namespace siteplane::certs {
namespace {

using namespace testing;

std::vector<std::string> thumbprints(const std::vector<Certificate>& chain) {
  std::vector<std::string> out;
  for (const auto& certificate : chain) out.push_back(certificate.thumbprint());
  return out;
}

// `openssl pkcs12 -export` of the hierarchy's leaf, key and CA chain, plus `extra` arguments.
std::filesystem::path exportPkcs12(const TempDir& dir, const Hierarchy& hierarchy,
                                   const std::string& name, const std::vector<std::string>& extra) {
  auto key = dir.write(name + ".key", hierarchy.leaf.key.toPem());
  auto leaf = dir.write(name + ".crt", hierarchy.leaf.leaf().toPem());
  auto cas = dir.write(name + "-ca.crt", hierarchy.intermediate.chainPem());
  auto out = dir.path() / (name + ".p12");
  std::vector<std::string> argv = {"openssl",    "pkcs12", "-export",     "-inkey",
                                   key.string(), "-in",    leaf.string(), "-certfile",
                                   cas.string(), "-out",   out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto made = run(argv);
  INFO(made.err);
  REQUIRE(made.exitCode == 0);
  return out;
}

}  // namespace

TEST_CASE("importPemFiles orders a chain given in any order leaf first", "[controller][certs]") {
  TempDir dir;
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  const auto& root = hierarchy.root.leaf();
  const auto& intermediate = hierarchy.intermediate.leaf();
  const auto& leaf = hierarchy.leaf.leaf();
  auto key = dir.write("site.key", hierarchy.leaf.key.toPem());

  auto order =
      GENERATE(std::vector<int>{0, 1, 2}, std::vector<int>{2, 1, 0}, std::vector<int>{1, 0, 2},
               std::vector<int>{2, 0, 1, 0});  // the last one repeats the leaf
  std::vector<Certificate> all = {leaf, intermediate, root};
  std::string pem;
  for (int index : order) pem += all[static_cast<size_t>(index)].toPem();
  auto certificate = dir.write("site.crt", pem);

  auto bundle = valueOf(importPemFiles(certificate, key));
  CHECK(thumbprints(bundle.chain) == thumbprints(all));
  CHECK(bundle.key.matches(bundle.leaf()));
  CHECK(bundle.leaf().validityAt(Clock::now()) == Validity::kValid);
}

TEST_CASE("importPemFiles rejects a key that matches no certificate", "[controller][certs]") {
  TempDir dir;
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  auto certificate = dir.write("site.crt", hierarchy.leaf.chainPem());
  auto otherKey =
      dir.write("other.key", valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa)).toPem());
  auto result = importPemFiles(certificate, otherKey);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.message() == certificate.string() + " with key " + otherKey.string() +
                                ": the private key matches none of the 3 certificate(s)");
}

TEST_CASE("importPem rejects a certificate that is not part of the leaf's chain",
          "[controller][certs]") {
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  auto stranger = makeHierarchy({"www.fabrikam.com"});
  auto result =
      importPem(hierarchy.leaf.chainPem() + stranger.root.chainPem(), hierarchy.leaf.key.toPem());
  REQUIRE_FALSE(result.isOk());
  CHECK(result.message() == "certificate 'CN=Siteplane Test Root' (thumbprint " +
                                stranger.root.leaf().thumbprint() +
                                ") is not part of the chain of (thumbprint " +
                                hierarchy.leaf.leaf().thumbprint() + ", empty subject)");

  // A gap in the chain (the intermediate missing) is the same problem.
  auto gap = importPem(hierarchy.leaf.leaf().toPem() + hierarchy.root.chainPem(),
                       hierarchy.leaf.key.toPem());
  REQUIRE_FALSE(gap.isOk());
  CHECK(gap.message().find("is not part of the chain of") != std::string::npos);
}

TEST_CASE("orderChain without a key finds the leaf as the certificate that signed no other",
          "[controller][certs]") {
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  auto chain = valueOf(
      orderChain({hierarchy.root.leaf(), hierarchy.leaf.leaf(), hierarchy.intermediate.leaf()}));
  CHECK(thumbprints(chain) == thumbprints(hierarchy.leaf.chain));

  auto other = makeHierarchy({"www.fabrikam.com"});
  auto twoLeaves = orderChain({hierarchy.leaf.leaf(), other.leaf.leaf()});
  REQUIRE_FALSE(twoLeaves.isOk());
  CHECK(twoLeaves.message().rfind("more than one leaf certificate: ", 0) == 0);
}

TEST_CASE("An expired certificate imports and reports itself expired", "[controller][certs]") {
  auto longAgo = nowSeconds() - std::chrono::hours(24 * 30);
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto old = valueOf(
      issueSelfSigned(serverTemplate({"old.contoso.com"}, longAgo, std::chrono::hours(24)), key));
  auto bundle = valueOf(importPem(old.toPem(), key.toPem()));
  CHECK(bundle.leaf().validityAt(Clock::now()) == Validity::kExpired);
  CHECK(validityReason(bundle.leaf().validityAt(Clock::now())) == "Expired");
}

TEST_CASE("importPemFiles names the file it cannot read or parse", "[controller][certs]") {
  TempDir dir;
  auto key = dir.write("site.key", valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa)).toPem());
  auto missing = dir.path() / "missing.crt";
  auto result = importPemFiles(missing, key);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.message().rfind(missing.string() + ": cannot read: ", 0) == 0);

  auto notPem = dir.write("garbage.crt", "garbage");
  auto garbage = importPemFiles(notPem, key);
  REQUIRE_FALSE(garbage.isOk());
  CHECK(garbage.message() ==
        notPem.string() + ": no PEM certificate found (expected a \"CERTIFICATE\" block)");

  auto hierarchy = makeHierarchy({"www.contoso.com"});
  auto certificate = dir.write("site.crt", hierarchy.leaf.chainPem());
  auto keyIsCertificate = importPemFiles(certificate, certificate);
  REQUIRE_FALSE(keyIsCertificate.isOk());
  CHECK(keyIsCertificate.message() ==
        certificate.string() + ": no PEM private key found (expected a \"PRIVATE KEY\" block)");
}

TEST_CASE("importPkcs12File reads password-protected, empty-password and unprotected files",
          "[controller][certs]") {
  TempDir dir;
  auto hierarchy = makeHierarchy({"www.contoso.com"});

  SECTION("a password from a file, trailing newline dropped") {
    auto p12 = exportPkcs12(dir, hierarchy, "secret", {"-passout", "pass:s3cret phrase"});
    auto passwordFile = dir.write("password.txt", "s3cret phrase\n");
    auto bundle = valueOf(importPkcs12File(p12, passwordFile));
    CHECK(thumbprints(bundle.chain) == thumbprints(hierarchy.leaf.chain));
    CHECK(bundle.key.toPem() == hierarchy.leaf.key.toPem());
  }
  SECTION("an empty password, none given") {
    auto p12 = exportPkcs12(dir, hierarchy, "empty", {"-passout", "pass:"});
    auto bundle = valueOf(importPkcs12File(p12, std::nullopt));
    CHECK(thumbprints(bundle.chain) == thumbprints(hierarchy.leaf.chain));
  }
  SECTION("no encryption and no integrity check") {
    auto p12 = exportPkcs12(dir, hierarchy, "open",
                            {"-keypbe", "NONE", "-certpbe", "NONE", "-nomac", "-passout", "pass:"});
    auto bundle = valueOf(importPkcs12File(p12, std::nullopt));
    CHECK(thumbprints(bundle.chain) == thumbprints(hierarchy.leaf.chain));
  }
  SECTION("RC2-encrypted, as OpenSSL 1.x and older Windows exports write it") {
    auto p12 = exportPkcs12(dir, hierarchy, "legacy", {"-legacy", "-passout", "pass:old"});
    auto bundle = valueOf(importPkcs12(siteplane::testing::readFile(p12), std::string("old")));
    CHECK(thumbprints(bundle.chain) == thumbprints(hierarchy.leaf.chain));
    CHECK(bundle.key.matches(bundle.leaf()));
  }
}

TEST_CASE("importPkcs12File says when the password is wrong or missing", "[controller][certs]") {
  TempDir dir;
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  auto p12 = exportPkcs12(dir, hierarchy, "secret", {"-passout", "pass:right"});
  auto wrongFile = dir.write("wrong.txt", "wrong\n");

  auto wrong = importPkcs12File(p12, wrongFile);
  REQUIRE_FALSE(wrong.isOk());
  CHECK(wrong.message() ==
        p12.string() + " (password from " + wrongFile.string() +
            "): wrong password for the PKCS#12 file (its integrity check failed)");

  auto none = importPkcs12File(p12, std::nullopt);
  REQUIRE_FALSE(none.isOk());
  CHECK(none.message() ==
        p12.string() + ": the PKCS#12 file is password-protected and no password was given");

  auto notPkcs12 = importPkcs12("definitely not DER", std::nullopt);
  REQUIRE_FALSE(notPkcs12.isOk());
  CHECK(notPkcs12.message().rfind("not a PKCS#12 (.pfx/.p12) file", 0) == 0);
}

TEST_CASE("Import failures carry the code the Certificate reconciler reports them by",
          "[controller][certs]") {
  TempDir dir;
  auto hierarchy = makeHierarchy({"www.contoso.com"});
  auto stranger = makeHierarchy({"www.fabrikam.com"});
  auto certificate = dir.write("site.crt", hierarchy.leaf.chainPem());
  auto key = dir.write("site.key", hierarchy.leaf.key.toPem());

  // The key of another certificate: through importPemFiles' context, still kKeyMismatch.
  auto otherKey =
      dir.write("other.key", valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa)).toPem());
  auto mismatch = importPemFiles(certificate, otherKey);
  REQUIRE_FALSE(mismatch.isOk());
  CHECK(mismatch.code() == ErrorCode::kKeyMismatch);

  // Certificates that are not one chain from one leaf.
  auto foreign =
      importPem(hierarchy.leaf.chainPem() + stranger.root.chainPem(), hierarchy.leaf.key.toPem());
  REQUIRE_FALSE(foreign.isOk());
  CHECK(foreign.code() == ErrorCode::kInvalidChain);
  auto gap = importPem(hierarchy.leaf.leaf().toPem() + hierarchy.root.chainPem(),
                       hierarchy.leaf.key.toPem());
  REQUIRE_FALSE(gap.isOk());
  CHECK(gap.code() == ErrorCode::kInvalidChain);
  auto twoLeaves = orderChain({hierarchy.leaf.leaf(), stranger.leaf.leaf()});
  REQUIRE_FALSE(twoLeaves.isOk());
  CHECK(twoLeaves.code() == ErrorCode::kInvalidChain);

  // A file the policy refuses: the import passes the policy's kPathNotAllowed through.
  auto policy = ImportPathPolicy::create({dir.path() / "manifests", {dir.path() / "roots"}, {}});
  auto refused = importPemFiles(certificate, key, [&](const std::filesystem::path& path) {
    return policy.read(path, ImportOrigin::kApi);
  });
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.code() == ErrorCode::kPathNotAllowed);

  // A file that is not a certificate is none of these.
  auto garbage = dir.write("garbage.crt", "not a certificate");
  auto unreadable = importPemFiles(garbage, key);
  REQUIRE_FALSE(unreadable.isOk());
  CHECK(unreadable.code() == ErrorCode::kUnspecified);
  auto missing = importPemFiles(dir.path() / "missing.crt", key);
  REQUIRE_FALSE(missing.isOk());
  CHECK(missing.code() == ErrorCode::kUnspecified);
}

}  // namespace siteplane::certs

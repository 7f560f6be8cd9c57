// An API user who names files siteplane must not read: another Certificate's key in the state
// directory, the API's own CA key, a symlink or ".." that leads there, a file of the manifest
// directory. Each is refused on the Certificate's condition, saying nothing about the file.

#include <catch2/catch.hpp>

#include "tests/e2e/serve/api_client.h"

namespace siteplane::testing {
namespace {

namespace fs = std::filesystem;

std::string apiCertificate(const std::string& name, const fs::path& cert, const fs::path& key) {
  json object = {
      {"apiVersion", "siteplane.io/v1alpha1"},
      {"kind", "Certificate"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"source", {{"certificateFile", cert.string()}, {"privateKeyFile", key.string()}}}}}};
  return object.dump();
}

}  // namespace

TEST_CASE(
    "serve imports only from the manifest directory and --import-root, never the state "
    "directory",
    "[e2e][serve][certificate][import-roots]") {
  Server server;
  const fs::path roots = server.dir().path() / "roots";
  auto allowed = makeCertificate(roots, "allowed", {"allowed.example.test"});
  auto inManifests = makeCertificate(server.manifests() / "tls", "local", {"local.example.test"});
  // A manifest's Certificate, issued into the state directory: the key an attacker wants.
  server.write("issued.yaml",
               documents({selfSignedIssuerYaml(),
                          issuedCertificateYaml("victim", "self", {"victim.example.test"}),
                          importedCertificateYaml("from-file", inManifests)}));
  server.start({"--import-root", roots.string()}, /*importTestDir=*/false);
  ApiClient api(server);
  REQUIRE(waitUntil(
      [&] { return server.condition("Certificate", "victim", "Ready") == "True/Issued"; }));
  // A manifest's object imports from the manifest directory.
  REQUIRE(waitUntil(
      [&] { return server.condition("Certificate", "from-file", "Ready") == "True/Imported"; }));

  const fs::path victimDir = server.state() / "certificates" / "default" / "victim";
  fs::path victimCert, victimKey;
  for (const auto& entry : fs::directory_iterator(victimDir)) {
    if (entry.path().extension() == ".key")
      victimKey = entry.path();
    else if (entry.path().extension() == ".crt" || entry.path().extension() == ".pem")
      victimCert = entry.path();
  }
  REQUIRE(!victimKey.empty());
  REQUIRE(!victimCert.empty());
  fs::create_symlink(server.state(), roots / "state-link");

  struct Attempt {
    std::string name;
    fs::path cert;
    fs::path key;
  };
  std::vector<Attempt> attempts = {
      {"steal-key", victimCert, victimKey},
      {"steal-ca", server.state() / "api" / "ca.crt", server.state() / "api" / "ca.key"},
      {"via-symlink", roots / "state-link" / "api" / "ca.crt",
       roots / "state-link" / "api" / "ca.key"},
      {"via-dotdot", roots / ".." / "state" / "api" / "ca.crt",
       roots / ".." / "state" / "api" / "ca.key"},
      {"manifest-dir", inManifests.cert, inManifests.key},
      {"missing", server.dir().path() / "nothing" / "x.crt",
       server.dir().path() / "nothing" / "x.key"},
      {"elsewhere", "/etc/hostname", "/etc/hostname"},
  };
  for (const auto& attempt : attempts) {
    auto created = api.call("POST", kApiPrefix + "certificates",
                            apiCertificate(attempt.name, attempt.cert, attempt.key));
    INFO(attempt.name << ": " << created.body);
    REQUIRE(created.status == 201);
  }
  auto good = api.call("POST", kApiPrefix + "certificates",
                       apiCertificate("allowed", allowed.cert, allowed.key));
  REQUIRE(good.status == 201);
  REQUIRE(waitUntil(
      [&] { return server.condition("Certificate", "allowed", "Ready") == "True/Imported"; }));

  for (const auto& attempt : attempts) {
    INFO(attempt.name);
    REQUIRE(waitUntil([&] {
      return server.condition("Certificate", attempt.name, "Ready") == "False/PathNotAllowed";
    }));
    std::string message = server.conditionMessage("Certificate", attempt.name, "Ready");
    INFO(message);
    // Says which field and that the path is not allowed; nothing about the file itself.
    CHECK_THAT(message, Catch::StartsWith("spec.source.certificateFile: " + attempt.cert.string() +
                                          " is not in a directory this object may import from"));
    CHECK(message.find("No such file") == std::string::npos);
    CHECK(message.find("BEGIN") == std::string::npos);
    CHECK(server.statusField("Certificate", attempt.name, "thumbprint").empty());
    CHECK_FALSE(fs::exists(server.state() / "certificates" / "default" / attempt.name));
  }
  // The refusal reads the same whether the file exists (the CA key) or not.
  auto words = [&](const std::string& name, const Attempt& attempt) {
    std::string message = server.conditionMessage("Certificate", name, "Ready");
    return message.substr(message.find(attempt.cert.string()) + attempt.cert.string().size());
  };
  CHECK(words("steal-ca", attempts[1]) == words("missing", attempts[5]));
  REQUIRE(server.process().running());
}

}  // namespace siteplane::testing

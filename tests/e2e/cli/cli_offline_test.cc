// The siteplane CLI as a user runs it, before any server is involved: certificates and requests
// from `siteplane cert`, and one clear error line when there is no kubeconfig, no server or an
// invalid manifest.

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/support/test_support.h"

namespace siteplane::testing {
namespace {

namespace fs = std::filesystem;

std::string siteplane() { return (fs::path(SITEPLANE_BINARY_DIR) / "siteplane").string(); }

// Exactly one line on stderr, as every CLI error promises.
bool oneLine(const std::string& text) {
  return !text.empty() && text.back() == '\n' && text.find('\n') == text.size() - 1;
}

// A kubeconfig for a server at `url` trusting `caFile`, with `token`.
fs::path writeKubeconfig(const TempDir& dir, const std::string& url, const fs::path& caFile,
                         const std::string& token) {
  auto encoded = run({"openssl", "base64", "-A", "-in", caFile.string()});
  REQUIRE(encoded.exitCode == 0);
  return dir.write("kubeconfig",
                   "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: " +
                       url + "\n    certificate-authority-data: " + encoded.out +
                       "\nusers:\n- name: u\n  user:\n    token: " + token +
                       "\ncontexts:\n- name: c\n  context: {cluster: s, user: u, namespace: "
                       "default}\ncurrent-context: c\n");
}

}  // namespace

TEST_CASE("cert create-self-signed writes a key only its owner can read and a matching certificate",
          "[e2e][cli][cert]") {
  TempDir dir;
  auto cert = dir.path() / "site.crt";
  auto key = dir.path() / "site.key";
  auto result = run({siteplane(), "cert", "create-self-signed", "--dns-name", "www.example.test",
                     "--ip-address", "127.0.0.1", "--duration", "90d", "--cert-out", cert.string(),
                     "--key-out", key.string()});
  REQUIRE(result.exitCode == 0);
  struct stat info {};
  REQUIRE(::stat(key.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  auto text = run({"openssl", "x509", "-in", cert.string(), "-noout", "-text"});
  REQUIRE(text.exitCode == 0);
  CHECK(text.out.find("DNS:www.example.test") != std::string::npos);
  CHECK(text.out.find("IP Address:127.0.0.1") != std::string::npos);
  // The thumbprint printed is the certificate's SHA-1, as Certificate status reports it.
  auto fingerprint =
      run({"openssl", "x509", "-in", cert.string(), "-noout", "-fingerprint", "-sha1"});
  std::string hex = fingerprint.out.substr(fingerprint.out.find('=') + 1);
  hex.erase(std::remove(hex.begin(), hex.end(), ':'), hex.end());
  hex.erase(std::remove(hex.begin(), hex.end(), '\n'), hex.end());
  CHECK(result.out.find(hex) != std::string::npos);
  // The key belongs to the certificate.
  auto keyPub = run({"openssl", "pkey", "-in", key.string(), "-pubout"});
  auto certPub = run({"openssl", "x509", "-in", cert.string(), "-noout", "-pubkey"});
  CHECK(keyPub.out == certPub.out);
}

TEST_CASE("cert create-self-signed refuses to overwrite files and needs a subject",
          "[e2e][cli][cert]") {
  TempDir dir;
  auto existing = dir.write("site.key", "keep me\n");
  auto result = run({siteplane(), "cert", "create-self-signed", "--common-name", "x", "--cert-out",
                     (dir.path() / "site.crt").string(), "--key-out", existing.string()});
  CHECK(result.exitCode == 1);
  CHECK(oneLine(result.err));
  CHECK(result.err.find("already exists") != std::string::npos);
  CHECK(readFile(existing) == "keep me\n");

  auto noSubject =
      run({siteplane(), "cert", "create-self-signed", "--cert-out", (dir.path() / "a.crt").string(),
           "--key-out", (dir.path() / "a.key").string()});
  CHECK(noSubject.exitCode == 1);
  CHECK(noSubject.err == "error: give at least one of --common-name, --dns-name, --ip-address\n");

  auto badSize = run({siteplane(), "cert", "create-self-signed", "--cn", "x", "--key-algorithm",
                      "RSA", "--key-size", "1024", "--cert-out", (dir.path() / "b.crt").string(),
                      "--key-out", (dir.path() / "b.key").string()});
  CHECK(badSize.exitCode == 1);
  CHECK(oneLine(badSize.err));
  CHECK(badSize.err.find("--key-size") != std::string::npos);
}

TEST_CASE("cert request writes a CSR with the requested names for the new key",
          "[e2e][cli][cert]") {
  TempDir dir;
  auto csr = dir.path() / "site.csr";
  auto key = dir.path() / "site.key";
  auto result =
      run({siteplane(), "cert", "request", "--common-name", "www.example.test", "--dns-name",
           "www.example.test", "--dns-name", "example.test", "--key-algorithm", "RSA", "--csr-out",
           csr.string(), "--key-out", key.string()});
  REQUIRE(result.exitCode == 0);
  auto verify = run({"openssl", "req", "-in", csr.string(), "-noout", "-verify", "-text"});
  REQUIRE(verify.exitCode == 0);
  CHECK(verify.out.find("CN = www.example.test") != std::string::npos);
  CHECK(verify.out.find("DNS:example.test") != std::string::npos);
  CHECK(verify.out.find("Public-Key: (2048 bit)") != std::string::npos);
  auto keyPub = run({"openssl", "pkey", "-in", key.string(), "-pubout"});
  auto csrPub = run({"openssl", "req", "-in", csr.string(), "-noout", "-pubkey"});
  CHECK(keyPub.out == csrPub.out);
}

TEST_CASE("cert import prints a Certificate manifest with absolute source paths that validates",
          "[e2e][cli][cert]") {
  TempDir dir;
  auto material = makeCertificate(dir.path(), "contoso", {"www.contoso.test"});
  auto result = run({siteplane(), "cert", "import", "--name", "contoso-tls", "--cert-file",
                     material.cert.string(), "--key-file", material.key.string()});
  REQUIRE(result.exitCode == 0);
  CHECK(result.out.find("# " + material.thumbprint) == 0);
  CHECK(result.out.find("kind: Certificate") != std::string::npos);
  CHECK(result.out.find("name: contoso-tls") != std::string::npos);
  CHECK(result.out.find("certificateFile: " + fs::canonical(material.cert).string()) !=
        std::string::npos);
  CHECK(result.out.find("privateKeyFile: " + fs::canonical(material.key).string()) !=
        std::string::npos);
  auto manifest = dir.write("imported.yaml", result.out);
  auto validated = run({siteplane(), "validate", manifest.string()});
  CHECK(validated.exitCode == 0);
}

TEST_CASE("cert import of a PKCS#12 file checks the password", "[e2e][cli][cert]") {
  TempDir dir;
  auto material = makeCertificate(dir.path(), "p12", {"p12.test"});
  auto p12 = dir.path() / "site.p12";
  REQUIRE(run({"openssl", "pkcs12", "-export", "-in", material.cert.string(), "-inkey",
               material.key.string(), "-out", p12.string(), "-passout", "pass:s3cret"})
              .exitCode == 0);
  auto good = dir.write("good.pass", "s3cret\n");
  auto bad = dir.write("bad.pass", "wrong\n");
  auto ok = run({siteplane(), "cert", "import", "--name", "p12", "--pkcs12-file", p12.string(),
                 "--pkcs12-password-file", good.string()});
  CHECK(ok.exitCode == 0);
  CHECK(ok.out.find("pkcs12File: " + fs::canonical(p12).string()) != std::string::npos);
  CHECK(ok.out.find("pkcs12PasswordFile: " + fs::canonical(good).string()) != std::string::npos);
  auto wrong = run({siteplane(), "cert", "import", "--name", "p12", "--pkcs12-file", p12.string(),
                    "--pkcs12-password-file", bad.string()});
  CHECK(wrong.exitCode == 1);
  CHECK(oneLine(wrong.err));

  auto both = run({siteplane(), "cert", "import", "--name", "x", "--pkcs12-file", p12.string(),
                   "--cert-file", material.cert.string()});
  CHECK(both.exitCode == 2);
  CHECK(both.err == "error: give either --cert-file and --key-file, or --pkcs12-file\n");
}

TEST_CASE("API commands without a kubeconfig name the file they looked for", "[e2e][cli]") {
  TempDir dir;
  auto state = dir.path() / "state";
  auto result =
      run({"env", "-u", "KUBECONFIG", siteplane(), "get", "bindings", "--state", state.string()});
  CHECK(result.exitCode == 1);
  CHECK(oneLine(result.err));
  CHECK(result.err.find((state / "kubeconfig").string()) != std::string::npos);

  // $KUBECONFIG comes before the default.
  auto fromEnv = run(
      {"env", "KUBECONFIG=" + (dir.path() / "elsewhere").string(), siteplane(), "get", "sites"});
  CHECK(fromEnv.exitCode == 1);
  CHECK(fromEnv.err.find((dir.path() / "elsewhere").string()) != std::string::npos);
}

TEST_CASE("API commands with no server listening fail with one line naming the server",
          "[e2e][cli]") {
  TempDir dir;
  auto ca = makeCertificate(dir.path(), "ca", {}, nullptr, true);
  int port = freePort();
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  auto kubeconfig = writeKubeconfig(dir, url, ca.cert, "token");
  for (std::vector<std::string> command : {std::vector<std::string>{"get", "bindings"},
                                           {"describe", "site", "web"},
                                           {"delete", "site", "web"}}) {
    command.insert(command.begin(), siteplane());
    command.push_back("--kubeconfig");
    command.push_back(kubeconfig.string());
    auto result = run(command);
    INFO(command[1]);
    CHECK(result.exitCode == 1);
    CHECK(oneLine(result.err));
    CHECK(result.err.find("cannot reach the API server at " + url) != std::string::npos);
  }
}

TEST_CASE("A server whose certificate the kubeconfig's CA did not sign is refused", "[e2e][cli]") {
  TempDir dir;
  auto trusted = makeCertificate(dir.path(), "trusted-ca", {}, nullptr, true);
  auto other = makeCertificate(dir.path(), "other-ca", {}, nullptr, true);
  auto serving = makeCertificate(dir.path(), "server", {"localhost"}, &other);
  int port = freePort();
  Process server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                  serving.cert.string(), "-key", serving.key.string(), "-www", "-quiet"});
  auto kubeconfig =
      writeKubeconfig(dir, "https://127.0.0.1:" + std::to_string(port), trusted.cert, "t");
  CommandResult result;
  REQUIRE(waitUntil([&] {
    result = run({siteplane(), "get", "sites", "--kubeconfig", kubeconfig.string()});
    return result.err.find("Connection refused") == std::string::npos;
  }));
  CHECK(result.exitCode == 1);
  CHECK(oneLine(result.err));
  CHECK(result.err.find("server certificate not trusted") != std::string::npos);
}

TEST_CASE("apply of an invalid manifest names the file, line and field before contacting a server",
          "[e2e][cli]") {
  TempDir dir;
  auto manifest = dir.write("bad.yaml",
                            "apiVersion: siteplane.io/v1alpha1\nkind: Binding\nmetadata:\n  name: "
                            "b\nspec:\n  siteRef: {name: web}\n  protocol: http\n  port: 70000\n");
  auto result = run({siteplane(), "apply", "-f", manifest.string(), "--kubeconfig",
                     (dir.path() / "missing").string()});
  CHECK(result.exitCode == 1);
  CHECK(oneLine(result.err));
  CHECK(result.err.find(manifest.string() + ":8:") != std::string::npos);
  CHECK(result.err.find("spec.port") != std::string::npos);
}

TEST_CASE("Every command answers --help", "[e2e][cli]") {
  for (std::vector<std::string> command : {std::vector<std::string>{"apply"},
                                           {"get"},
                                           {"describe"},
                                           {"delete"},
                                           {"diff"},
                                           {"wait"},
                                           {"version"},
                                           {"cert"},
                                           {"cert", "create-self-signed"},
                                           {"cert", "request"},
                                           {"cert", "import"}}) {
    command.insert(command.begin(), siteplane());
    command.push_back("--help");
    auto result = run(command);
    INFO(command[1]);
    CHECK(result.exitCode == 0);
    CHECK(result.out.find("Usage:") != std::string::npos);
  }
}

TEST_CASE("get rejects an unknown kind with the kinds it knows", "[e2e][cli]") {
  auto result = run({siteplane(), "get", "pods"});
  CHECK(result.exitCode == 2);
  CHECK(result.err ==
        "error: unknown resource type \"pods\" (sites, bindings, certificates, "
        "issuers)\n");
}

TEST_CASE("version --client needs no server", "[e2e][cli]") {
  auto result = run({siteplane(), "version", "--client"});
  CHECK(result.exitCode == 0);
  CHECK(result.out.rfind("Client Version: ", 0) == 0);
}

TEST_CASE("wait and diff reject malformed arguments before contacting a server", "[e2e][cli]") {
  auto noSlash = run({siteplane(), "wait", "--for=condition=Ready", "binding"});
  CHECK(noSlash.exitCode == 2);
  CHECK(noSlash.err == "error: expected KIND/NAME, got \"binding\"\n");
  auto badFor = run({siteplane(), "wait", "--for=ready", "binding/x"});
  CHECK(badFor.exitCode == 2);
  CHECK(oneLine(badFor.err));
  TempDir dir;
  auto manifest = dir.write("bad.yaml", "apiVersion: siteplane.io/v1alpha1\nkind: Site\n");
  auto diff = run({siteplane(), "diff", "-f", manifest.string()});
  CHECK(diff.exitCode == 2);
}

}  // namespace siteplane::testing

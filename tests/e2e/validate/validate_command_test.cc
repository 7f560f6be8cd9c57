// siteplane validate (and serve's argument checks), as a user runs them: the real binary, real
// files.

#include <catch2/catch.hpp>

#include "tests/support/test_support.h"

namespace siteplane::testing {
namespace {

// The compile-time paths rather than binaryDir()/sourceDir(): ctest passes only the first of the
// two environment variables siteplane_test() sets.
std::string siteplane() {
  return (std::filesystem::path(SITEPLANE_BINARY_DIR) / "siteplane").string();
}

const std::string kValid =
    "# contoso\n"
    "apiVersion: siteplane.io/v1alpha1\n"
    "kind: Site\n"
    "metadata:\n"
    "  name: contoso\n"
    "spec:\n"
    "  root: www\n"
    "---\n"
    "apiVersion: siteplane.io/v1alpha1\n"
    "kind: Binding\n"
    "metadata:\n"
    "  name: contoso-https\n"
    "spec:\n"
    "  siteRef: {name: contoso}\n"
    "  protocol: https\n"
    "  bindingInformation: \"*:443:www.contoso.com\"\n"
    "  certificateRef: {name: contoso-tls}\n"
    "---\n"
    "apiVersion: siteplane.io/v1alpha1\n"
    "kind: Certificate\n"
    "metadata:\n"
    "  name: contoso-tls\n"
    "spec:\n"
    "  dnsNames: [www.contoso.com]\n"
    "  issuerRef: {name: selfsigned}\n"
    "---\n"
    "apiVersion: siteplane.io/v1alpha1\n"
    "kind: Issuer\n"
    "metadata:\n"
    "  name: selfsigned\n"
    "spec:\n"
    "  selfSigned: {}\n";

}  // namespace

TEST_CASE("siteplane validate prints one line per object and exits 0 when all is valid",
          "[e2e][validate]") {
  TempDir dir;
  dir.write("manifests/contoso.yaml", kValid);
  auto result = run({siteplane(), "validate", (dir.path() / "manifests").string()});
  INFO(result.err);
  CHECK(result.exitCode == 0);
  CHECK(result.err.empty());
  CHECK(result.out == "Site default/contoso: root=" + (dir.path() / "manifests/www").string() +
                          " minTLS=1.2\n"
                          "Binding default/contoso-https: https *:443 host=www.contoso.com "
                          "site=contoso cert=contoso-tls\n"
                          "Certificate default/contoso-tls: issuer=selfsigned "
                          "dnsNames=www.contoso.com key=ECDSA-256 "
                          "duration=2160h renewBefore=720h\n"
                          "Issuer default/selfsigned: selfSigned\n");
}

TEST_CASE("siteplane validate prints every error of every file and exits 1", "[e2e][validate]") {
  TempDir dir;
  auto good = dir.write("m/good.yaml", kValid);
  auto portLine = kValid;
  portLine.replace(portLine.find("  bindingInformation: \"*:443:www.contoso.com\"\n"),
                   std::string("  bindingInformation: \"*:443:www.contoso.com\"\n").size(),
                   "  port: 70000\n  hostName: www.contoso.com\n  extra: 1\n");
  auto bad = dir.write("m/sub/bad.yml", portLine);
  auto broken = dir.write("m/zz.yaml", "kind: [\n");
  auto result = run({siteplane(), "validate", (dir.path() / "m").string()});
  CHECK(result.exitCode == 1);
  CHECK(result.out.empty());
  CHECK(result.err ==
        bad.string() +
            ":16:9: Binding \"contoso-https\" spec.port: must be between 1 and 65535, got 70000\n" +
            bad.string() + ":18:3: Binding \"contoso-https\" spec.extra: unknown field\n" +
            broken.string() + ":2:1: invalid YAML: end of sequence flow not found\n" +
            // good.yaml declares the same objects as bad.yml would have: bad.yml is rejected first,
            // so nothing is declared twice.
            "3 errors in 3 files\n");
  (void)good;
}

TEST_CASE("siteplane validate reports a missing path and an empty directory", "[e2e][validate]") {
  TempDir dir;
  auto missing = run({siteplane(), "validate", (dir.path() / "nope").string()});
  CHECK(missing.exitCode == 1);
  CHECK(missing.err ==
        (dir.path() / "nope").string() + ": no such file or directory\n1 error in 0 files\n");

  auto empty = run({siteplane(), "validate", dir.path().string()});
  CHECK(empty.exitCode == 1);
  CHECK(empty.err == "no manifest files (*.yaml, *.yml) found\n");

  auto usage = run({siteplane(), "validate"});
  CHECK(usage.exitCode == 2);
}

TEST_CASE("siteplane validate accepts every example manifest", "[e2e][validate][examples]") {
  auto examples = std::filesystem::path(SITEPLANE_SOURCE_DIR) / "manifests";
  REQUIRE(std::filesystem::is_directory(examples));  // tracked in the repository
  auto result = run({siteplane(), "validate", examples.string()});
  INFO(result.err);
  CHECK(result.exitCode == 0);
  CHECK_FALSE(result.out.empty());
}

TEST_CASE("siteplane serve refuses unknown log settings before starting", "[e2e][serve]") {
  // Serving itself is tested in tests/e2e/serve; these return before anything starts.
  TempDir dir;
  dir.write("manifests/contoso.yaml", kValid);
  auto manifests = (dir.path() / "manifests").string();
  auto state = (dir.path() / "state").string();
  auto badFormat = run(
      {siteplane(), "serve", "--manifests", manifests, "--state", state, "--log-format", "xml"});
  CHECK(badFormat.exitCode == 2);
  auto badLevel = run(
      {siteplane(), "serve", "--manifests", manifests, "--state", state, "--log-level", "loud"});
  CHECK(badLevel.exitCode == 2);
  CHECK(badLevel.err.find("unknown --log-level \"loud\"") != std::string::npos);
}

TEST_CASE("siteplane serve says which flags go with which source, before starting",
          "[e2e][serve]") {
  TempDir dir;
  dir.write("manifests/contoso.yaml", kValid);
  dir.write("kubeconfig", "apiVersion: v1\nkind: Config\n");
  auto manifests = (dir.path() / "manifests").string();
  auto state = (dir.path() / "state").string();
  auto kubeconfig = (dir.path() / "kubeconfig").string();
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const Case cases[] = {
      {{"--state", state}, "--manifests DIR is required"},
      {{"--manifests", manifests}, "--state DIR is required"},
      {{"--manifests", manifests, "--state", state, "--namespace", "shop"},
       "--namespace needs --source kubernetes"},
      {{"--source", "kubernetes", "--kubeconfig", kubeconfig, "--manifests", manifests},
       "--manifests is not read with --source kubernetes"},
      {{"--source", "kubernetes", "--kubeconfig", kubeconfig, "--api-listen", "127.0.0.1:0"},
       "--api-listen is not served with --source kubernetes"},
      {{"--source", "kubernetes", "--kubeconfig", kubeconfig, "--namespace", "Not_A_Name"},
       "--namespace \"Not_A_Name\" is not a namespace name"},
      {{"--source", "kubernetes", "--context", "prod"}, "--context needs --kubeconfig"},
      {{"--source", "kubernetes", "--kubeconfig", kubeconfig}, kubeconfig},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {siteplane(), "serve"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto result = run(argv);
    INFO(result.err);
    CHECK(result.exitCode == 2);
    CHECK(result.err.find(c.says) != std::string::npos);
  }
}

}  // namespace siteplane::testing

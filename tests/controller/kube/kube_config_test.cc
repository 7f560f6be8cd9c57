#include "controller/kube/kube_config.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "tests/support/test_support.h"

using siteplane::kube::inClusterConfig;
using siteplane::kube::loadKubeconfig;
using siteplane::testing::TempDir;

namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// base64 of "-----CA-----\n", "-----CERT-----\n" and "-----KEY-----\n".
constexpr const char* kKubeconfig = R"(apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: LS0tLS1DQS0tLS0tCg==
- name: files
  cluster:
    server: https://10.0.0.1
    certificate-authority: pki/ca.crt
users:
- name: admin
  user:
    client-certificate-data: LS0tLS1DRVJULS0tLS0K
    client-key-data: LS0tLS1LRVktLS0tLQo=
- name: robot
  user:
    tokenFile: token
- name: plugin
  user:
    exec: {command: aws}
contexts:
- name: admin
  context: {cluster: local, user: admin}
- name: robot
  context: {cluster: files, user: robot, namespace: edge}
- name: plugin
  context: {cluster: local, user: plugin}
- name: missing
  context: {cluster: nowhere, user: admin}
)";

}  // namespace

TEST_CASE("A kubeconfig's current context gives the server and inline credentials",
          "[kube][config]") {
  TempDir dir;
  write(dir.path() / "config", kKubeconfig);
  auto config = loadKubeconfig(dir.path() / "config", "");
  REQUIRE(config);
  CHECK(config->server == "https://127.0.0.1:6443");
  CHECK(config->certificateAuthority == "-----CA-----\n");
  CHECK(config->clientCertificate == "-----CERT-----\n");
  CHECK(config->clientKey == "-----KEY-----\n");
  CHECK(config->token.empty());
  CHECK(config->origin == "kubeconfig " + (dir.path() / "config").string() + ", context admin");
}

TEST_CASE("A named context reads files relative to the kubeconfig and keeps its namespace",
          "[kube][config]") {
  TempDir dir;
  write(dir.path() / "config", kKubeconfig);
  std::filesystem::create_directory(dir.path() / "pki");
  write(dir.path() / "pki" / "ca.crt", "-----FILE CA-----\n");
  auto config = loadKubeconfig(dir.path() / "config", "robot");
  REQUIRE(config);
  CHECK(config->server == "https://10.0.0.1");
  CHECK(config->certificateAuthority == "-----FILE CA-----\n");
  CHECK(config->tokenFile == dir.path() / "token");
  CHECK(config->ns == "edge");
}

TEST_CASE("A kubeconfig that cannot be used says which context and what", "[kube][config]") {
  TempDir dir;
  write(dir.path() / "config", kKubeconfig);
  auto missing = loadKubeconfig(dir.path() / "config", "missing");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.message(),
             Catch::Contains("context missing") && Catch::Contains("no cluster named \"nowhere\""));
  auto unknown = loadKubeconfig(dir.path() / "config", "elsewhere");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.message(), Catch::Contains("no context named \"elsewhere\""));
  auto plugin = loadKubeconfig(dir.path() / "config", "plugin");
  REQUIRE_FALSE(plugin);
  CHECK_THAT(plugin.message(), Catch::Contains("exec and auth-provider credentials are not"));
  auto files = loadKubeconfig(dir.path() / "config", "robot");  // pki/ca.crt absent
  REQUIRE_FALSE(files);
  CHECK_THAT(files.message(), Catch::Contains("certificate-authority: cannot read"));
  write(dir.path() / "broken", "clusters: [\n");
  auto broken = loadKubeconfig(dir.path() / "broken", "");
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.message(), Catch::Contains("kubeconfig " + (dir.path() / "broken").string()));
  write(dir.path() / "plain", R"(current-context: c
clusters: [{name: k, cluster: {server: "http://127.0.0.1:8080"}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  auto plain = loadKubeconfig(dir.path() / "plain", "");
  REQUIRE_FALSE(plain);
  CHECK_THAT(plain.message(), Catch::Contains("only https:// is supported"));
}

TEST_CASE("In a pod, the service account mount and the service environment are the config",
          "[kube][config]") {
  TempDir dir;
  write(dir.path() / "ca.crt", "-----POD CA-----\n");
  write(dir.path() / "token", "eyJhbGciOi");
  write(dir.path() / "namespace", "siteplane-system");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = inClusterConfig(dir.path());
  REQUIRE(config);
  CHECK(config->server == "https://10.96.0.1:443");
  CHECK(config->certificateAuthority == "-----POD CA-----\n");
  CHECK(config->tokenFile == dir.path() / "token");
  CHECK(config->ns == "siteplane-system");
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  CHECK(inClusterConfig(dir.path())->server == "https://[fd00::1]:443");
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto outside = inClusterConfig(dir.path());
  REQUIRE_FALSE(outside);
  CHECK_THAT(outside.message(), Catch::Contains("pass --kubeconfig"));
}

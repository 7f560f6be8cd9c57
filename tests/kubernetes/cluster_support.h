#pragma once

// What the tests of this folder share: the kube_cluster fixture's directory
// (SITEPLANE_TEST_CLUSTER), its admin kubeconfig and clients, and a namespace of one's own.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/kube/kube_client.h"
#include "controller/kube/kube_config.h"

namespace siteplane::testing {

using kube::KubeClient;
using kube::KubeConfig;

inline std::filesystem::path clusterDir() {
  const char* dir = std::getenv("SITEPLANE_TEST_CLUSTER");
  REQUIRE(dir != nullptr);
  return dir;
}

inline KubeConfig adminConfig() {
  auto config = kube::loadKubeconfig(clusterDir() / "kubeconfig", "");
  REQUIRE(config);
  return *config;
}

inline std::unique_ptr<KubeClient> clientOf(KubeConfig config) {
  auto client = kube::KubeClient::create(std::move(config));
  REQUIRE(client);
  return std::move(client).value();
}

inline std::unique_ptr<KubeClient> adminClient() { return clientOf(adminConfig()); }

// A fresh namespace per test: no controller deletes namespaces in the test cluster.
inline std::string freshNamespace(KubeClient& client, const std::string& prefix) {
  std::string name =
      prefix + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000000);
  auto created = client.request(
      "POST", "/api/v1/namespaces",
      nlohmann::json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}}
          .dump());
  REQUIRE(created);
  REQUIRE(created->status == 201);
  return name;
}

}  // namespace siteplane::testing

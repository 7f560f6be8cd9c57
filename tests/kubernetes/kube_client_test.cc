// KubeClient against the real kube-apiserver of scripts/test-cluster (the kube_cluster fixture;
// SITEPLANE_TEST_CLUSTER names its directory).

#include "controller/kube/kube_client.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/kubernetes/cluster_support.h"
#include "tests/support/test_support.h"

using namespace siteplane;
using namespace siteplane::kube;
using nlohmann::json;
using namespace siteplane::testing;

namespace {}  // namespace

TEST_CASE("KubeClient reaches kube-apiserver with the kubeconfig's client certificate",
          "[kube][cluster]") {
  auto client = clientOf(adminConfig());
  auto version = client->request("GET", "/version");
  REQUIRE(version);
  CHECK(version->status == 200);
  CHECK(json::parse(version->body)["gitVersion"] == "v1.34.4");
}

TEST_CASE("An HTTP error is a response, a transport failure is kUnavailable", "[kube][cluster]") {
  auto config = adminConfig();
  auto client = clientOf(config);
  auto missing = client->request("GET", "/api/v1/namespaces/default/configmaps/no-such-thing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["reason"] == "NotFound");

  KubeConfig anonymous = config;  // no credentials: the API server's anonymous user
  anonymous.clientCertificate.clear();
  anonymous.clientKey.clear();
  anonymous.token = "not-a-valid-token";
  auto refused = clientOf(anonymous)->request("GET", "/api/v1/namespaces");
  REQUIRE(refused);
  CHECK(refused->status == 401);

  KubeConfig wrongCa = config;
  wrongCa.certificateAuthority = config.clientCertificate;  // a certificate that signed nothing
  auto untrusted = clientOf(wrongCa)->request("GET", "/version");
  REQUIRE_FALSE(untrusted);
  CHECK(untrusted.code() == ErrorCode::kUnavailable);

  KubeConfig nowhere = config;
  nowhere.server = "https://127.0.0.1:" + std::to_string(testing::freePort());
  auto down = clientOf(nowhere)->request("GET", "/version");
  REQUIRE_FALSE(down);
  CHECK(down.code() == ErrorCode::kUnavailable);
  CHECK_THAT(down.message(), Catch::Contains("127.0.0.1"));
}

TEST_CASE("A watch streams each event as a line until the caller has what it wants",
          "[kube][cluster]") {
  auto client = clientOf(adminConfig());
  std::string ns = freshNamespace(*client, "watch");
  auto list = client->request("GET", "/api/v1/namespaces/" + ns + "/configmaps");
  REQUIRE(list);
  std::string version = json::parse(list->body)["metadata"]["resourceVersion"];
  std::thread writer([&] {
    for (int i = 0; i < 3; ++i) {
      auto created = client->request("POST", "/api/v1/namespaces/" + ns + "/configmaps",
                                     json{{"apiVersion", "v1"},
                                          {"kind", "ConfigMap"},
                                          {"metadata", {{"name", "c" + std::to_string(i)}}}}
                                         .dump());
      CHECK((created && created->status == 201));
    }
  });
  std::vector<std::string> names;
  Status watched =
      client->watch("/api/v1/namespaces/" + ns +
                        "/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion=" + version,
                    [&](std::string_view line) {
                      auto event = json::parse(line);
                      if (event["type"] == "ADDED")
                        names.push_back(event["object"]["metadata"]["name"]);
                      return names.size() < 3;
                    });
  writer.join();
  REQUIRE(watched);
  CHECK(names == std::vector<std::string>{"c0", "c1", "c2"});
}

TEST_CASE("cancel() ends a watch in flight with kCancelled, and every later call",
          "[kube][cluster]") {
  auto client = clientOf(adminConfig());
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    client->cancel();
  });
  auto started = std::chrono::steady_clock::now();
  Status watched = client->watch("/api/v1/namespaces/default/configmaps?watch=1",
                                 [](std::string_view) { return true; });
  canceller.join();
  REQUIRE_FALSE(watched);
  CHECK(watched.code() == ErrorCode::kCancelled);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
  CHECK(client->request("GET", "/version").code() == ErrorCode::kCancelled);
}

TEST_CASE("A watch refused by the server is an error with its message", "[kube][cluster]") {
  auto client = clientOf(adminConfig());
  Status watched =
      client->watch("/apis/no.such.group/v1/things?watch=1", [](std::string_view) { return true; });
  REQUIRE_FALSE(watched);
  CHECK(watched.code() == ErrorCode::kNotFound);
  CHECK_THAT(watched.message(), Catch::Contains("HTTP 404"));
}

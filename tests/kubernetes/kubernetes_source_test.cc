// KubernetesSource against the real kube-apiserver (the kube_cluster fixture): what it mirrors
// of the cluster's objects and which Secrets it takes material from.

#include "controller/kube/kubernetes_source.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/annotations.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/issuance.h"
#include "controller/certs/private_key.h"
#include "controller/kube/tls_secret.h"
#include "tests/kubernetes/cluster_support.h"
#include "tests/support/test_support.h"

using namespace siteplane;
using namespace siteplane::kube;
using nlohmann::json;
using namespace siteplane::testing;

namespace {

// The CRDs, applied with the cluster's kubectl (idempotent: other tests apply them too).
void installCrds() {
  std::ifstream env(clusterDir() / "env");
  std::string line, kubectl;
  while (std::getline(env, line)) {
    if (line.rfind("KUBECTL=", 0) == 0) kubectl = line.substr(8);
  }
  REQUIRE_FALSE(kubectl.empty());
  const std::string kubeconfig = (clusterDir() / "kubeconfig").string();
  auto applied = testing::run({kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-f",
                               std::string(SITEPLANE_SOURCE_DIR) + "/crds"},
                              "", std::chrono::seconds(60));
  INFO(applied.err);
  REQUIRE(applied.exitCode == 0);
  auto established = testing::run({kubectl, "--kubeconfig", kubeconfig, "wait",
                                   "--for=condition=Established", "crd", "--all", "--timeout=60s"},
                                  "", std::chrono::seconds(70));
  INFO(established.err);
  REQUIRE(established.exitCode == 0);
}

json post(KubeClient& client, const std::string& path, const json& object) {
  auto created = client.request("POST", path, object.dump());
  REQUIRE(created);
  INFO(created->body);
  REQUIRE(created->status == 201);
  return json::parse(created->body);
}

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

json certificate(const std::string& ns, const std::string& name) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Certificate"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", {{"dnsNames", {name + ".test"}}, {"issuerRef", {{"name", "selfsigned"}}}}}};
}

}  // namespace

TEST_CASE(
    "The Kubernetes source mirrors cluster objects as API objects and takes a Secret only "
    "from the Certificate that names and owns it",
    "[kube][cluster][source]") {
  installCrds();
  auto admin = adminClient();
  const std::string ns = freshNamespace(*admin, "source");
  const std::string apis = "/apis/siteplane.io/v1alpha1/namespaces/" + ns;

  // A Site that claims a manifest file: from the cluster, that claim must not hold.
  post(*admin, apis + "/sites",
       {{"apiVersion", "siteplane.io/v1alpha1"},
        {"kind", "Site"},
        {"metadata",
         {{"name", "web"}, {"annotations", {{kManifestFileAnnotation, "/etc/manifests/x.yaml"}}}}},
        {"spec", {{"root", "/var/run/secrets/kubernetes.io/serviceaccount"}}}});
  json web = post(*admin, apis + "/certificates", certificate(ns, "web"));
  json api = post(*admin, apis + "/certificates", certificate(ns, "api"));

  auto owned = selfSigned("web.test");
  post(*admin, "/api/v1/namespaces/" + ns + "/secrets", tlsSecretFor(web, owned));
  // Labelled and even owned by web, but not the Secret web names.
  json decoy = tlsSecretFor(web, selfSigned("decoy.test"));
  decoy["metadata"]["name"] = "web-decoy";
  post(*admin, "/api/v1/namespaces/" + ns + "/secrets", decoy);
  // The Secret api names, labelled for api, but owned by nobody.
  json impostor = tlsSecretFor(api, selfSigned("api.test"));
  impostor["metadata"].erase("ownerReferences");
  post(*admin, "/api/v1/namespaces/" + ns + "/secrets", impostor);

  testing::TempDir state;
  auto store = store::Store::create(state.path());
  REQUIRE(store);
  auto certificates = certs::CertificateStore::open(state.path() / "certificates");
  REQUIRE(certificates);
  ClusterStatuses statuses;
  KubernetesSourceOptions options;
  options.namespaces = {ns};
  auto source = KubernetesSource::create(adminConfig(), **store, **certificates, statuses, options);
  REQUIRE(source);
  REQUIRE((*source)->start());
  REQUIRE((*source)->synced());

  auto site = (*store)->get({"Site", ns, "web"});
  REQUIRE(site);
  CHECK_FALSE(
      (**site)["metadata"].value("annotations", json::object()).contains(kManifestFileAnnotation));
  auto mirrored = (*store)->get({"Certificate", ns, "web"});
  REQUIRE(mirrored);
  CHECK((**mirrored)["metadata"]["uid"] == web["metadata"]["uid"]);
  CHECK((**mirrored)["metadata"]["generation"] == web["metadata"]["generation"]);

  auto taken = (*certificates)->get(ns + "/web");
  REQUIRE(taken);
  REQUIRE(taken->has_value());
  CHECK((*taken)->leaf().thumbprint() == owned.leaf().thumbprint());
  auto refused = (*certificates)->get(ns + "/api");
  REQUIRE(refused);
  CHECK_FALSE(refused->has_value());
  (*source)->stop();
}

#pragma once

// Where the Kubernetes API server is and how to authenticate to it: from a kubeconfig file (as
// kubectl reads it) or from the pod's service account (in-cluster).
//
//   auto config = kube::loadKubeconfig("/home/me/.kube/config", /*context=*/"");
//   auto config = kube::inClusterConfig();   // KUBERNETES_SERVICE_HOST + the mounted token
//
// Credentials are kept as PEM text and a token; a token file (the projected service-account
// token, rotated by the kubelet) is re-read by the client before each request that needs it.

#include <filesystem>
#include <optional>
#include <string>

#include "common/status.h"

namespace siteplane::kube {

struct KubeConfig {
  std::string server;  // https://host:port, no trailing slash
  // PEM of the CAs that sign the API server's certificate; empty: the system's CA roots.
  std::string certificateAuthority;
  bool insecureSkipTlsVerify = false;
  // At most one of token / tokenFile; client certificate and key go together.
  std::string token;
  std::filesystem::path tokenFile;
  std::string clientCertificate;  // PEM
  std::string clientKey;          // PEM
  // The context's namespace, or the pod's; empty when neither says.
  std::string ns;
  // Where the settings came from, for messages: "kubeconfig FILE, context NAME" or "in-cluster".
  std::string origin;
};

// `context` empty: the file's current-context. Paths in the file are relative to its directory,
// as kubectl resolves them. Errors name the file, the context and the field.
Result<KubeConfig> loadKubeconfig(const std::filesystem::path& file, const std::string& context);

// The service account the kubelet mounts, and the API server's address from the environment.
// `root` is where the mount lives (tests point it elsewhere).
Result<KubeConfig> inClusterConfig(
    const std::filesystem::path& root = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace siteplane::kube

#include "controller/kube/kube_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "common/base64.h"
#include "common/durable_file.h"

namespace siteplane::kube {

namespace fs = std::filesystem;

namespace {

Result<std::string> readFile(const fs::path& path) {
  auto read = durable::readFile(path);
  if (!read) return Status::error("cannot read " + path.string() + ": " + read.message());
  return read;
}

Result<std::string> decodeBase64(const std::string& encoded, const std::string& field) {
  auto decoded = base64Decode(encoded);
  if (!decoded) return Status::error(field + ": not base64");
  return decoded;
}

// The `name:`d entry of a kubeconfig list (clusters, users, contexts), its inner map.
Result<YAML::Node> namedEntry(const YAML::Node& root, const char* list, const char* inner,
                              const std::string& name) {
  for (const auto& entry : root[list]) {
    if (entry["name"] && entry["name"].as<std::string>() == name) {
      if (!entry[inner] || !entry[inner].IsMap())
        return Status::error(std::string(list) + " entry \"" + name + "\" has no " + inner);
      return entry[inner];
    }
  }
  return Status::error(std::string("no ") + inner + " named \"" + name + "\" in " + list);
}

std::string text(const YAML::Node& map, const char* key) {
  return map[key] ? map[key].as<std::string>() : std::string();
}

// A credential given inline (`KEY-data`, base64) or as a file (`KEY`, relative to the file).
Result<std::string> pemField(const YAML::Node& map, const std::string& key, const fs::path& base) {
  if (auto data = text(map, (key + "-data").c_str()); !data.empty())
    return decodeBase64(data, key + "-data");
  if (auto path = text(map, key.c_str()); !path.empty()) {
    auto read = readFile(fs::path(path).is_absolute() ? fs::path(path) : base / path);
    if (!read) return std::move(read).status().withContext(key);
    return read;
  }
  return std::string();
}

Status readCluster(const YAML::Node& cluster, const fs::path& base, KubeConfig& config) {
  config.server = text(cluster, "server");
  if (config.server.empty()) return Status::error("cluster has no server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.rfind("https://", 0) != 0)
    return Status::error("server " + config.server + ": only https:// is supported");
  auto ca = pemField(cluster, "certificate-authority", base);
  if (!ca) return ca.status();
  config.certificateAuthority = std::move(ca).value();
  config.insecureSkipTlsVerify =
      cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
  return Status::ok();
}

Status readUser(const YAML::Node& user, const fs::path& base, KubeConfig& config) {
  if (user["exec"] || user["auth-provider"])
    return Status::error(
        "user: exec and auth-provider credentials are not supported; use a "
        "token, a token file or a client certificate");
  config.token = text(user, "token");
  if (auto file = text(user, "tokenFile"); !file.empty())
    config.tokenFile = fs::path(file).is_absolute() ? fs::path(file) : base / file;
  auto certificate = pemField(user, "client-certificate", base);
  if (!certificate) return certificate.status();
  auto key = pemField(user, "client-key", base);
  if (!key) return key.status();
  config.clientCertificate = std::move(certificate).value();
  config.clientKey = std::move(key).value();
  if (config.clientCertificate.empty() != config.clientKey.empty())
    return Status::error("user: client-certificate and client-key go together");
  return Status::ok();
}

}  // namespace

Result<KubeConfig> loadKubeconfig(const fs::path& file, const std::string& context) {
  const std::string where = "kubeconfig " + file.string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& error) {
    return Status::error(where + ": " + error.what());
  }
  try {
    std::string name = context.empty() ? text(root, "current-context") : context;
    if (name.empty()) return Status::error(where + ": no current-context; pass --context");
    const std::string origin = where + ", context " + name;
    auto entry = namedEntry(root, "contexts", "context", name);
    if (!entry) return std::move(entry).status().withContext(origin);
    KubeConfig config;
    config.origin = origin;
    config.ns = text(*entry, "namespace");
    const fs::path base = file.parent_path();
    auto cluster = namedEntry(root, "clusters", "cluster", text(*entry, "cluster"));
    if (!cluster) return std::move(cluster).status().withContext(origin);
    if (Status read = readCluster(*cluster, base, config); !read)
      return std::move(read).withContext(origin);
    if (auto userName = text(*entry, "user"); !userName.empty()) {
      auto user = namedEntry(root, "users", "user", userName);
      if (!user) return std::move(user).status().withContext(origin);
      if (Status read = readUser(*user, base, config); !read)
        return std::move(read).withContext(origin);
    }
    return config;
  } catch (const YAML::Exception& error) {
    return Status::error(where + ": " + error.what());
  }
}

Result<KubeConfig> inClusterConfig(const fs::path& root) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return Status::error(
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are "
        "not set (not in a pod? pass --kubeconfig)");
  KubeConfig config;
  config.origin = "in-cluster";
  std::string address = host;
  if (address.find(':') != std::string::npos) address = "[" + address + "]";  // IPv6
  config.server = "https://" + address + ":" + port;
  auto ca = readFile(root / "ca.crt");
  if (!ca) return std::move(ca).status().withContext("in-cluster");
  config.certificateAuthority = std::move(ca).value();
  config.tokenFile = root / "token";
  if (!fs::exists(config.tokenFile))
    return Status::error("in-cluster: no service-account token at " + config.tokenFile.string());
  if (auto ns = readFile(root / "namespace"); ns) config.ns = *ns;
  return config;
}

}  // namespace siteplane::kube

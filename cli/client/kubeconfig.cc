#include "cli/client/kubeconfig.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "controller/manifest/yaml_document.h"

namespace siteplane::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Result<std::string> readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Result<std::string>::error("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Finds the entry called `name` in a kubeconfig list such as `clusters`.
const json* findNamed(const json& root, const char* list, const std::string& name) {
  auto it = root.find(list);
  if (it == root.end() || !it->is_array()) return nullptr;
  for (const auto& entry : *it) {
    if (entry.is_object() && entry.value("name", "") == name) return &entry;
  }
  return nullptr;
}

std::string stringAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

fs::path resolveKubeconfigPath(const std::string& explicitPath, const std::string& stateDir) {
  if (!explicitPath.empty()) return explicitPath;
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string value = env;
    return value.substr(0, value.find(':'));
  }
  if (!stateDir.empty()) return fs::path(stateDir) / "kubeconfig";
  return fs::path(".siteplane") / "kubeconfig";
}

Result<Kubeconfig> Kubeconfig::load(const fs::path& path) {
  using R = Result<Kubeconfig>;
  const std::string label = "kubeconfig " + path.string();
  auto text = readText(path);
  if (!text) {
    return R::error(label +
                    ": cannot read it (start `siteplane serve`, or pass --kubeconfig or "
                    "--state)");
  }
  auto parsed = manifest::parseYaml(*text, path.string());
  if (!parsed.ok()) return R::error(label + ": " + parsed.errors.front().toString());
  if (parsed.documents.empty() || !parsed.documents.front().value.is_object()) {
    return R::error(label + ": not a kubeconfig (expected a mapping)");
  }
  const json& root = parsed.documents.front().value;
  Kubeconfig config;
  config.path = path;
  std::string contextName = stringAt(root, "current-context");
  std::string clusterName;
  std::string userName;
  config.nameSpace = "default";
  if (const json* context = findNamed(root, "contexts", contextName);
      context != nullptr && context->contains("context") && (*context)["context"].is_object()) {
    const json& body = (*context)["context"];
    clusterName = stringAt(body, "cluster");
    userName = stringAt(body, "user");
    if (std::string ns = stringAt(body, "namespace"); !ns.empty()) config.nameSpace = ns;
  } else if (!contextName.empty()) {
    return R::error(label + ": current-context \"" + contextName + "\" is not in contexts");
  }
  const json* cluster = findNamed(root, "clusters", clusterName);
  if (cluster == nullptr && root.contains("clusters") && root["clusters"].is_array() &&
      root["clusters"].size() == 1) {
    cluster = &root["clusters"][0];  // no context: a single cluster is unambiguous
  }
  if (cluster == nullptr || !cluster->contains("cluster") || !(*cluster)["cluster"].is_object()) {
    return R::error(label + ": no cluster for the current context");
  }
  const json& clusterBody = (*cluster)["cluster"];
  config.server = stringAt(clusterBody, "server");
  if (config.server.empty()) return R::error(label + ": clusters[].cluster.server is missing");
  if (std::string data = stringAt(clusterBody, "certificate-authority-data"); !data.empty()) {
    auto decoded = base64Decode(data);
    if (!decoded) {
      return R::error(label +
                      ": clusters[].cluster.certificate-authority-data: " + decoded.message());
    }
    config.caPem = std::move(decoded).value();
  } else if (std::string file = stringAt(clusterBody, "certificate-authority"); !file.empty()) {
    fs::path caPath = fs::path(file).is_absolute() ? fs::path(file) : path.parent_path() / file;
    auto ca = readText(caPath);
    if (!ca) return R::error(label + ": clusters[].cluster.certificate-authority: " + ca.message());
    config.caPem = std::move(ca).value();
  } else {
    return R::error(label + ": the cluster has no certificate-authority-data");
  }
  const json* user = findNamed(root, "users", userName);
  if (user == nullptr && root.contains("users") && root["users"].is_array() &&
      root["users"].size() == 1) {
    user = &root["users"][0];
  }
  if (user != nullptr && user->contains("user") && (*user)["user"].is_object()) {
    config.token = stringAt((*user)["user"], "token");
  }
  return config;
}

}  // namespace siteplane::cli

#include "controller/kube/tls_secret.h"

#include "common/base64.h"
#include "common/json_fields.h"
#include "controller/certs/certificate_import.h"

namespace siteplane::kube {
namespace {

using nlohmann::json;

Result<std::string> dataField(const json& data, const char* field, const std::string& secret) {
  auto found = data.find(field);
  if (found == data.end() || !found->is_string())
    return Status::error("Secret " + secret + ": data." + field + " is missing");
  auto decoded = base64Decode(found->get<std::string>());
  if (!decoded) return Status::error("Secret " + secret + ": data." + field + " is not base64");
  return decoded;
}

}  // namespace

std::string secretNameOf(const json& certificate) {
  auto spec = certificate.find("spec");
  if (spec != certificate.end() && spec->is_object()) {
    std::string named = stringMember(*spec, "secretName");
    if (!named.empty()) return named;
  }
  return stringMember(certificate["metadata"], "name") + "-tls";
}

json tlsSecretFor(const json& certificate, const certs::CertificateBundle& bundle) {
  const json& metadata = certificate["metadata"];
  std::string name = stringMember(metadata, "name");
  json owner = {{"apiVersion", stringMember(certificate, "apiVersion")},
                {"kind", "Certificate"},
                {"name", name},
                {"uid", stringMember(metadata, "uid")},
                {"controller", true}};
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata",
           {{"name", secretNameOf(certificate)},
            {"namespace", stringMember(metadata, "namespace")},
            {"labels", {{kCertificateLabel, name}}},
            {"ownerReferences", json::array({owner})}}},
          {"type", "kubernetes.io/tls"},
          {"data",
           {{"tls.crt", base64Encode(bundle.chainPem())},
            {"tls.key", base64Encode(bundle.key.toPem())},
            {"ca.crt", base64Encode(bundle.chain.back().toPem())}}}};
}

Result<SecretMaterial> materialOf(const json& secret) {
  const json& metadata = secret.value("metadata", json::object());
  std::string ns = stringMember(metadata, "namespace");
  std::string name = ns + "/" + stringMember(metadata, "name");
  std::string certificate;
  if (auto labels = metadata.find("labels"); labels != metadata.end() && labels->is_object())
    certificate = stringMember(*labels, kCertificateLabel);
  auto key = ObjectKey::parse("Certificate/" + ns + "/" + certificate);
  if (!key)
    return Status::error("Secret " + name + ": label " + kCertificateLabel +
                         " does not name a Certificate");
  auto bundle = bundleOf(secret);
  if (!bundle) return bundle.status();
  return SecretMaterial{*key, std::move(bundle).value()};
}

Result<certs::CertificateBundle> bundleOf(const json& secret) {
  const std::string name =
      metadataString(secret, "namespace") + "/" + metadataString(secret, "name");
  json data = secret.is_object() ? secret.value("data", json::object()) : json();
  if (!data.is_object()) return Status::error("Secret " + name + ": data is not a map");
  auto chain = dataField(data, "tls.crt", name);
  if (!chain) return chain.status();
  auto privateKey = dataField(data, "tls.key", name);
  if (!privateKey) return privateKey.status();
  auto bundle = certs::importPem(*chain, *privateKey);
  if (!bundle) return std::move(bundle).status().withContext("Secret " + name);
  return bundle;
}

}  // namespace siteplane::kube

#include "controller/api/object.h"

namespace siteplane::api {
namespace {

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += ",";
    out += value;
  }
  return out;
}

std::string listenAddress(const std::string& address, uint16_t port) {
  bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string describeSpec(const Site& site) {
  const auto& spec = site.spec;
  std::string out = spec.root.empty() ? "upstream=" + spec.upstream : "root=" + spec.root;
  if (spec.siteId) out += " siteId=" + std::to_string(*spec.siteId);
  if (spec.ssl.requireSSL) out += spec.ssl.redirectHTTP ? " requireSSL(redirect)" : " requireSSL";
  if (spec.ssl.require128BitCiphers) out += " require128BitCiphers";
  if (spec.ssl.clientCertificate != ClientCertificateMode::kIgnore) {
    out += std::string(" clientCertificate=") + toString(spec.ssl.clientCertificate);
    std::vector<std::string> names;
    for (const auto& reference : spec.ssl.clientCARefs) names.push_back(reference.name);
    out += " clientCAs=" + joined(names);
  }
  out += std::string(" minTLS=") + toString(spec.ssl.minTLSVersion);
  return out;
}

std::string describeSpec(const Binding& binding) {
  const auto& spec = binding.spec;
  std::string out =
      std::string(toString(spec.protocol)) + " " + listenAddress(spec.address, spec.port);
  out += " host=" + (spec.hostName.empty() ? std::string("(any)") : spec.hostName);
  out += " site=" + spec.siteRef.name;
  if (spec.certificateRef) out += " cert=" + spec.certificateRef->name;
  return out;
}

std::string describeSpec(const Certificate& certificate) {
  const auto& spec = certificate.spec;
  std::string out;
  if (spec.issuerRef) {
    out = "issuer=" + spec.issuerRef->name;
  } else if (spec.source && !spec.source->pkcs12File.empty()) {
    out = "pkcs12=" + spec.source->pkcs12File;
  } else if (spec.source) {
    out = "cert=" + spec.source->certificateFile + " key=" + spec.source->privateKeyFile;
  }
  if (!spec.commonName.empty()) out += " cn=" + spec.commonName;
  if (!spec.dnsNames.empty()) out += " dnsNames=" + joined(spec.dnsNames);
  if (!spec.ipAddresses.empty()) out += " ipAddresses=" + joined(spec.ipAddresses);
  if (spec.issuerRef) {
    out += std::string(" key=") + toString(spec.privateKey.algorithm);
    if (spec.privateKey.size) out += "-" + std::to_string(spec.privateKey.size);
    out += " duration=" + formatDuration(spec.duration) +
           " renewBefore=" + formatDuration(spec.renewBefore);
  }
  if (spec.isCA) out += " isCA";
  return out;
}

std::string describeSpec(const Issuer& issuer) {
  const auto& spec = issuer.spec;
  if (spec.selfSigned) return "selfSigned";
  if (spec.ca) return "ca certificate=" + spec.ca->certificateRef.name;
  if (spec.acme) {
    return "acme server=" + spec.acme->server +
           (spec.acme->email.empty() ? "" : " email=" + spec.acme->email);
  }
  return "";
}

}  // namespace

const char* kindOf(const Object& object) {
  return std::visit([](const auto& typed) { return std::decay_t<decltype(typed)>::kKind; }, object);
}

const ObjectMeta& metadataOf(const Object& object) {
  return std::visit([](const auto& typed) -> const ObjectMeta& { return typed.metadata; }, object);
}

ObjectMeta& metadataOf(Object& object) {
  return std::visit([](auto& typed) -> ObjectMeta& { return typed.metadata; }, object);
}

ObjectKey keyOf(const Object& object) {
  const auto& metadata = metadataOf(object);
  return ObjectKey{kindOf(object), metadata.namespaceName, metadata.name};
}

std::string describe(const Object& object) {
  std::string spec = std::visit([](const auto& typed) { return describeSpec(typed); }, object);
  return std::string(kindOf(object)) + " " + keyOf(object).namespacedName() + ": " + spec;
}

}  // namespace siteplane::api

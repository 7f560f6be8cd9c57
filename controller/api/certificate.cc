#include "controller/api/certificate.h"

#include <algorithm>

#include "controller/api/codec_internal.h"
#include "controller/api/validation.h"

namespace siteplane::api {

const char* toString(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kECDSA:
      return "ECDSA";
    case KeyAlgorithm::kRSA:
      return "RSA";
    case KeyAlgorithm::kEd25519:
      return "Ed25519";
  }
  return "ECDSA";
}

const char* toString(RotationPolicy policy) {
  return policy == RotationPolicy::kAlways ? "Always" : "Never";
}

namespace codec {
namespace {

constexpr const char* kDurationRule =
    "must be a duration such as \"90d\", \"2160h\", \"30m\" or \"1h30m\"";

std::optional<Duration> readDuration(ObjectReader& reader, std::string_view field) {
  auto text = reader.string(field);
  if (!text) return std::nullopt;
  auto parsed = parseDuration(*text);
  if (!parsed) {
    reader.error(field, std::string(kDurationRule) + ", got \"" + *text + "\"");
    return std::nullopt;
  }
  if (parsed->count() <= 0) {
    reader.error(field, "must be longer than 0s, got \"" + *text + "\"");
    return std::nullopt;
  }
  return *parsed;
}

void decodePrivateKey(ObjectReader& key, PrivateKeySpec& out) {
  if (auto algorithm = key.enumeration("algorithm", {"ECDSA", "RSA", "Ed25519"})) {
    out.algorithm = *algorithm == "RSA"       ? KeyAlgorithm::kRSA
                    : *algorithm == "Ed25519" ? KeyAlgorithm::kEd25519
                                              : KeyAlgorithm::kECDSA;
  }
  out.size = out.algorithm == KeyAlgorithm::kRSA     ? 2048
             : out.algorithm == KeyAlgorithm::kECDSA ? 256
                                                     : 0;
  if (auto size = key.integer("size")) {
    switch (out.algorithm) {
      case KeyAlgorithm::kECDSA:
        if (*size != 256 && *size != 384) {
          key.error("size", "must be 256 or 384 for ECDSA, got " + std::to_string(*size));
        } else {
          out.size = static_cast<int>(*size);
        }
        break;
      case KeyAlgorithm::kRSA:
        if (*size != 2048 && *size != 3072 && *size != 4096) {
          key.error("size", "must be 2048, 3072 or 4096 for RSA, got " + std::to_string(*size));
        } else {
          out.size = static_cast<int>(*size);
        }
        break;
      case KeyAlgorithm::kEd25519:
        key.error("size", "must not be set for Ed25519 (its size is fixed)");
        break;
    }
  }
  if (auto policy = key.enumeration("rotationPolicy", {"Never", "Always"})) {
    out.rotationPolicy = *policy == "Always" ? RotationPolicy::kAlways : RotationPolicy::kNever;
  }
}

void decodeSource(ObjectReader& source, CertificateSource& out) {
  auto& context = source.context();
  out.certificateFile = context.resolvePath(source.string("certificateFile").value_or(""));
  out.privateKeyFile = context.resolvePath(source.string("privateKeyFile").value_or(""));
  out.pkcs12File = context.resolvePath(source.string("pkcs12File").value_or(""));
  out.pkcs12PasswordFile = context.resolvePath(source.string("pkcs12PasswordFile").value_or(""));
  bool pem = source.has("certificateFile") || source.has("privateKeyFile");
  bool pkcs12 = source.has("pkcs12File");
  if (auto secretName = source.string("secretName")) {
    out.secretName = *secretName;
    if (!isDns1123Label(*secretName))
      source.error("secretName", std::string(kDns1123LabelRule) + ", got \"" + *secretName + "\"");
    if (pem || pkcs12 || source.has("pkcs12PasswordFile"))
      source.error("secretName", "cannot be set together with files; a Secret or files");
    return;
  }
  if (pem && pkcs12) {
    source.error("pkcs12File", "cannot be set together with certificateFile/privateKeyFile");
    return;
  }
  if (pkcs12) return;
  if (pem) {
    if (!source.has("certificateFile"))
      source.error("certificateFile", "is required with privateKeyFile");
    if (!source.has("privateKeyFile"))
      source.error("privateKeyFile", "is required with certificateFile");
    if (source.has("pkcs12PasswordFile")) source.error("pkcs12PasswordFile", "requires pkcs12File");
    return;
  }
  if (source.has("pkcs12PasswordFile")) {
    source.error("pkcs12PasswordFile", "requires pkcs12File");
    return;
  }
  context.error(source.path(),
                "one of certificateFile + privateKeyFile, pkcs12File or secretName is required");
}

void decodeSubject(ObjectReader& spec, CertificateSpec& out) {
  if (auto commonName = spec.string("commonName")) {
    // X.509 upper bound for the CN attribute (RFC 5280 ub-common-name).
    if (commonName->size() > 64) {
      spec.error("commonName",
                 "must be at most 64 characters, got " + std::to_string(commonName->size()));
    }
    out.commonName = *commonName;
  }
  if (auto names = spec.stringList("dnsNames")) {
    for (size_t i = 0; i < names->size(); ++i) {
      const auto& name = (*names)[i];
      if (!isDnsName(name) && !isWildcardDnsName(name)) {
        spec.context().error(spec.pathOf("dnsNames").index(i),
                             "must be a DNS name such as www.example.com or a wildcard such as "
                             "*.example.com, got \"" +
                                 name + "\"");
      }
    }
    out.dnsNames = *names;
  }
  if (auto addresses = spec.stringList("ipAddresses")) {
    for (size_t i = 0; i < addresses->size(); ++i) {
      if (!isIPAddress((*addresses)[i])) {
        spec.context().error(spec.pathOf("ipAddresses").index(i),
                             "must be an IPv4 or IPv6 address, got \"" + (*addresses)[i] + "\"");
      }
    }
    out.ipAddresses = *addresses;
  }
}

void decodeValidity(ObjectReader& spec, CertificateSpec& out) {
  auto duration = readDuration(spec, "duration");
  if (duration) out.duration = *duration;
  out.renewBefore = out.duration / 3;
  if (auto renewBefore = readDuration(spec, "renewBefore")) {
    if (*renewBefore >= out.duration) {
      spec.error("renewBefore", "must be less than duration (" + formatDuration(out.duration) +
                                    "), got " + formatDuration(*renewBefore));
    } else {
      out.renewBefore = *renewBefore;
    }
  }
}

// spec.usages (default: a TLS server's), with "cert sign" added for a CA.
void decodeUsages(ObjectReader& spec, CertificateSpec& out) {
  if (auto usages = spec.stringList("usages")) {
    for (size_t i = 0; i < usages->size(); ++i) {
      const auto& usage = (*usages)[i];
      auto path = spec.pathOf("usages").index(i);
      if (std::find(std::begin(kKeyUsages), std::end(kKeyUsages), usage) == std::end(kKeyUsages)) {
        spec.context().error(path,
                             "must be one of \"digital signature\", \"key encipherment\", "
                             "\"server auth\", \"client auth\", \"cert sign\", \"crl sign\", "
                             "got \"" +
                                 usage + "\"");
      } else if (std::find(usages->begin(), usages->begin() + static_cast<long>(i), usage) !=
                 usages->begin() + static_cast<long>(i)) {
        spec.context().error(path, "duplicate usage \"" + usage + "\"");
      } else {
        out.usages.push_back(usage);
      }
    }
  } else {
    out.usages = {"digital signature", "key encipherment", "server auth"};
  }
  if (out.isCA &&
      std::find(out.usages.begin(), out.usages.end(), "cert sign") == out.usages.end()) {
    out.usages.push_back("cert sign");
  }
}

IssuerReference decodeIssuerRef(ObjectReader& issuer) {
  IssuerReference reference;
  if (issuer.require("name")) {
    if (auto name = issuer.string("name")) {
      if (!isDns1123Label(*name)) {
        issuer.error("name", std::string(kDns1123LabelRule) + ", got \"" + *name + "\"");
      }
      reference.name = *name;
    }
  }
  if (auto kind = issuer.string("kind"); kind && *kind != "Issuer") {
    issuer.error("kind", "must be \"Issuer\", got \"" + *kind + "\"");
  }
  return reference;
}

// A Certificate is issued (issuerRef, with a subject to issue for) or imported (source).
void decodeOrigin(ObjectReader& spec, CertificateSpec& out) {
  const bool hasIssuer = spec.has("issuerRef");
  const bool hasSource = spec.has("source");
  if (auto issuer = spec.object("issuerRef")) {
    out.issuerRef = decodeIssuerRef(*issuer);
    issuer->finish();
  }
  if (auto source = spec.object("source")) {
    CertificateSource material;
    decodeSource(*source, material);
    source->finish();
    out.source = material;
  }
  if (hasIssuer && hasSource) {
    spec.error("source",
               "cannot be set together with issuerRef; a Certificate is issued or imported");
  } else if (!hasIssuer && !hasSource) {
    spec.context().error(spec.path(), "one of issuerRef or source is required");
  }
  // A present but malformed dnsNames list was reported already; it still counts as a subject.
  auto nonEmpty = [&](std::string_view field) {
    const nlohmann::json* value = spec.get(field);
    return value && !(value->is_string() && value->get<std::string>().empty()) &&
           !(value->is_array() && value->empty());
  };
  if (hasIssuer && !nonEmpty("commonName") && !nonEmpty("dnsNames") && !nonEmpty("ipAddresses")) {
    spec.context().error(
        spec.path(),
        "at least one of commonName, dnsNames or ipAddresses is required with issuerRef");
  }
}

}  // namespace

CertificateSpec decodeCertificateSpec(ObjectReader& spec) {
  CertificateSpec out;
  decodeSubject(spec, out);
  decodeValidity(spec, out);
  if (auto key = spec.object("privateKey")) {
    decodePrivateKey(*key, out.privateKey);
    key->finish();
  }
  out.isCA = spec.boolean("isCA").value_or(false);
  decodeUsages(spec, out);
  decodeOrigin(spec, out);
  if (auto secretName = spec.string("secretName")) {
    if (!isDns1123Label(*secretName)) {
      spec.error("secretName", std::string(kDns1123LabelRule) + ", got \"" + *secretName + "\"");
    }
    out.secretName = *secretName;
  }
  return out;
}

CertificateStatus decodeCertificateStatus(ObjectReader& status) {
  CertificateStatus out;
  out.conditions = decodeConditions(status);
  out.thumbprint = status.string("thumbprint").value_or("");
  out.sha256Fingerprint = status.string("sha256Fingerprint").value_or("");
  out.serialNumber = status.string("serialNumber").value_or("");
  out.issuer = status.string("issuer").value_or("");
  out.subject = status.string("subject").value_or("");
  out.dnsNames = status.stringList("dnsNames").value_or(std::vector<std::string>{});
  out.notBefore = readTime(status, "notBefore");
  out.notAfter = readTime(status, "notAfter");
  out.renewalTime = readTime(status, "renewalTime");
  if (auto revision = status.integer("revision")) {
    if (*revision < 0) {
      status.error("revision", "must not be negative, got " + std::to_string(*revision));
    } else {
      out.revision = *revision;
    }
  }
  if (auto acme = status.object("acme")) {
    if (auto order = acme->object("order")) {
      AcmeOrderStatus progress;
      progress.url = order->string("url").value_or("");
      progress.state = order->string("state").value_or("");
      progress.dnsNames = order->stringList("dnsNames").value_or(std::vector<std::string>{});
      order->objectList("authorizations", [&](ObjectReader& item, size_t) {
        progress.authorizations.push_back(
            {item.string("identifier").value_or(""), item.string("url").value_or(""),
             item.string("state").value_or(""), item.string("challenge").value_or(""),
             item.string("token").value_or(""), item.string("keyAuthorization").value_or(""),
             item.string("waitingFor").value_or("")});
      });
      order->finish();
      out.acmeOrder = std::move(progress);
    }
    acme->finish();
  }
  return out;
}

nlohmann::json encodeCertificateSpec(const CertificateSpec& spec) {
  nlohmann::json out = nlohmann::json::object();
  if (!spec.secretName.empty()) out["secretName"] = spec.secretName;
  if (!spec.commonName.empty()) out["commonName"] = spec.commonName;
  if (!spec.dnsNames.empty()) out["dnsNames"] = spec.dnsNames;
  if (!spec.ipAddresses.empty()) out["ipAddresses"] = spec.ipAddresses;
  out["duration"] = formatDuration(spec.duration);
  out["renewBefore"] = formatDuration(spec.renewBefore);
  nlohmann::json key = {{"algorithm", toString(spec.privateKey.algorithm)},
                        {"rotationPolicy", toString(spec.privateKey.rotationPolicy)}};
  if (spec.privateKey.algorithm != KeyAlgorithm::kEd25519) key["size"] = spec.privateKey.size;
  out["privateKey"] = std::move(key);
  out["isCA"] = spec.isCA;
  out["usages"] = spec.usages;
  if (spec.issuerRef) {
    out["issuerRef"] = {{"name", spec.issuerRef->name}, {"kind", spec.issuerRef->kind}};
  }
  if (spec.source) {
    nlohmann::json source = nlohmann::json::object();
    const auto& s = *spec.source;
    if (!s.certificateFile.empty()) source["certificateFile"] = s.certificateFile;
    if (!s.privateKeyFile.empty()) source["privateKeyFile"] = s.privateKeyFile;
    if (!s.pkcs12File.empty()) source["pkcs12File"] = s.pkcs12File;
    if (!s.pkcs12PasswordFile.empty()) source["pkcs12PasswordFile"] = s.pkcs12PasswordFile;
    if (!s.secretName.empty()) source["secretName"] = s.secretName;
    out["source"] = std::move(source);
  }
  return out;
}

nlohmann::json encodeCertificateStatus(const CertificateStatus& status) {
  nlohmann::json out = nlohmann::json::object();
  if (!status.conditions.empty()) out["conditions"] = encodeConditions(status.conditions);
  auto put = [&](const char* field, const std::string& value) {
    if (!value.empty()) out[field] = value;
  };
  put("thumbprint", status.thumbprint);
  put("sha256Fingerprint", status.sha256Fingerprint);
  put("serialNumber", status.serialNumber);
  put("issuer", status.issuer);
  put("subject", status.subject);
  if (!status.dnsNames.empty()) out["dnsNames"] = status.dnsNames;
  if (status.notBefore) out["notBefore"] = formatTime(*status.notBefore);
  if (status.notAfter) out["notAfter"] = formatTime(*status.notAfter);
  if (status.renewalTime) out["renewalTime"] = formatTime(*status.renewalTime);
  if (status.revision) out["revision"] = status.revision;
  if (status.acmeOrder) {
    const AcmeOrderStatus& order = *status.acmeOrder;
    nlohmann::json authorizations = nlohmann::json::array();
    for (const auto& authorization : order.authorizations) {
      nlohmann::json item = {{"identifier", authorization.identifier},
                             {"url", authorization.url},
                             {"state", authorization.state}};
      if (!authorization.challenge.empty()) item["challenge"] = authorization.challenge;
      if (!authorization.token.empty()) item["token"] = authorization.token;
      if (!authorization.keyAuthorization.empty())
        item["keyAuthorization"] = authorization.keyAuthorization;
      if (!authorization.waitingFor.empty()) item["waitingFor"] = authorization.waitingFor;
      authorizations.push_back(std::move(item));
    }
    out["acme"]["order"] = {{"url", order.url},
                            {"state", order.state},
                            {"dnsNames", order.dnsNames},
                            {"authorizations", std::move(authorizations)}};
  }
  return out;
}

}  // namespace codec
}  // namespace siteplane::api

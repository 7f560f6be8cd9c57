#include "controller/api/issuer.h"

#include <cctype>

#include "common/ascii.h"
#include "controller/api/codec_internal.h"

namespace siteplane::api::codec {
namespace {

bool isHttpsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) return false;
  std::string_view rest = url.substr(kScheme.size());
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty()) return false;
  for (char c : host) {
    if (c <= ' ' || c == '\x7f') return false;
  }
  for (char c : rest) {
    if (c <= ' ' || c == '\x7f') return false;
  }
  return true;
}

bool isDnsNameOrZone(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*';
    if (!ok) return false;
  }
  return true;
}

// One solver's challenge type: exactly one of http01, tlsAlpn01 and dns01 (with rfc2136).
void decodeSolverType(ObjectReader& solver, AcmeSolver& out, bool required) {
  std::vector<const char*> present;
  if (auto http01 = solver.object("http01")) {
    http01->finish();
    out.type = AcmeChallengeType::kHttp01;
    present.push_back("http01");
  }
  if (auto tlsAlpn01 = solver.object("tlsAlpn01")) {
    tlsAlpn01->finish();
    out.type = AcmeChallengeType::kTlsAlpn01;
    present.push_back("tlsAlpn01");
  }
  if (auto dns01 = solver.object("dns01")) {
    out.type = AcmeChallengeType::kDns01;
    present.push_back("dns01");
    if (dns01->require("rfc2136")) {
      if (auto rfc2136 = dns01->object("rfc2136")) {
        AcmeRfc2136 server;
        if (rfc2136->require("nameserver"))
          server.nameserver = rfc2136->string("nameserver").value_or("");
        if (rfc2136->require("tsigKeyName"))
          server.tsigKeyName = rfc2136->string("tsigKeyName").value_or("");
        if (auto algorithm = rfc2136->enumeration(
                "tsigAlgorithm", {"HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"}))
          server.tsigAlgorithm = *algorithm;
        if (rfc2136->require("tsigSecretFile"))
          server.tsigSecretFile =
              rfc2136->context().resolvePath(rfc2136->string("tsigSecretFile").value_or(""));
        rfc2136->finish();
        out.rfc2136 = server;
      }
    }
    dns01->finish();
  }
  if (present.empty() && required)
    solver.context().error(solver.path(),
                           "a solver type is required: http01: {}, tlsAlpn01: {} or dns01");
  if (present.size() > 1)
    solver.error(present[1], std::string("cannot be set together with ") + present[0] +
                                 "; a solver has one type");
}

void decodeSelectorNames(ObjectReader& selector, const char* field, std::vector<std::string>& out) {
  auto names = selector.stringList(field);
  if (!names) return;
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string name = toLowerAscii((*names)[i]);
    if (!isDnsNameOrZone(name))
      selector.context().error(selector.pathOf(field).index(i),
                               "must be a DNS name, got \"" + (*names)[i] + "\"");
    out.push_back(name);
  }
}

AcmeIssuer decodeAcme(ObjectReader& acme) {
  AcmeIssuer issuer;
  if (acme.require("server")) {
    if (auto server = acme.string("server")) {
      if (!isHttpsUrl(*server)) {
        acme.error("server", "must be an https URL, got \"" + *server + "\"");
      }
      issuer.server = *server;
    }
  }
  if (auto email = acme.string("email")) {
    auto at = email->find('@');
    if (at == std::string::npos || at == 0 || at + 1 == email->size()) {
      acme.error("email", "must be an email address, got \"" + *email + "\"");
    }
    issuer.email = *email;
  }
  if (auto caBundle = acme.string("caBundle")) {
    if (caBundle->find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      acme.error("caBundle", "must be PEM text with at least one CERTIFICATE block");
    issuer.caBundle = *caBundle;
  }
  issuer.preferredChain = acme.string("preferredChain").value_or("");
  if (auto eab = acme.object("externalAccountBinding")) {
    AcmeExternalAccountBinding binding;
    if (eab->require("keyID")) binding.keyID = eab->string("keyID").value_or("");
    if (eab->require("keyFile"))
      binding.keyFile = eab->context().resolvePath(eab->string("keyFile").value_or(""));
    if (binding.keyID.empty() && eab->has("keyID")) eab->error("keyID", "must not be empty");
    eab->finish();
    issuer.externalAccountBinding = binding;
  }
  const bool shorthand = acme.has("http01");
  if (shorthand) {
    AcmeSolver solver;
    decodeSolverType(acme, solver, /*required=*/false);
    issuer.solvers.push_back(solver);
  }
  if (acme.has("solvers") && shorthand)
    acme.error("solvers",
               "cannot be set together with http01 (the shorthand for one http-01 "
               "solver for every name)");
  acme.objectList("solvers", [&](ObjectReader& item, size_t) {
    AcmeSolver solver;
    if (auto selector = item.object("selector")) {
      decodeSelectorNames(*selector, "dnsNames", solver.dnsNames);
      decodeSelectorNames(*selector, "dnsZones", solver.dnsZones);
      selector->finish();
    }
    decodeSolverType(item, solver, /*required=*/true);
    issuer.solvers.push_back(solver);
  });
  // Neither: http-01 for every name, as the shorthand says (the form before solvers existed).
  if (!shorthand && !acme.has("solvers")) issuer.solvers.push_back(AcmeSolver{});
  return issuer;
}

nlohmann::json encodeSolverType(const AcmeSolver& solver) {
  if (solver.type == AcmeChallengeType::kDns01 && solver.rfc2136) {
    const AcmeRfc2136& server = *solver.rfc2136;
    return {{"dns01",
             {{"rfc2136",
               {{"nameserver", server.nameserver},
                {"tsigKeyName", server.tsigKeyName},
                {"tsigAlgorithm", server.tsigAlgorithm},
                {"tsigSecretFile", server.tsigSecretFile}}}}}};
  }
  return {{solver.type == AcmeChallengeType::kTlsAlpn01 ? "tlsAlpn01" : "http01",
           nlohmann::json::object()}};
}

}  // namespace

IssuerSpec decodeIssuerSpec(ObjectReader& spec) {
  IssuerSpec out;
  std::vector<const char*> present;
  for (const char* field : {"selfSigned", "ca", "acme"}) {
    if (spec.has(field)) present.push_back(field);
  }
  if (auto selfSigned = spec.object("selfSigned")) {
    selfSigned->finish();
    out.selfSigned = SelfSignedIssuer{};
  }
  if (auto ca = spec.object("ca")) {
    CAIssuer issuer;
    if (auto reference = readReference(*ca, "certificateRef", /*required=*/true)) {
      issuer.certificateRef = *reference;
    }
    ca->finish();
    out.ca = issuer;
  }
  if (auto acme = spec.object("acme")) {
    out.acme = decodeAcme(*acme);
    acme->finish();
  }
  if (present.empty()) {
    spec.context().error(spec.path(), "exactly one of selfSigned, ca or acme is required");
  }
  for (size_t i = 1; i < present.size(); ++i) {
    spec.error(present[i], std::string("cannot be set together with ") + present[0] +
                               "; an Issuer has exactly one of selfSigned, ca or acme");
  }
  return out;
}

IssuerStatus decodeIssuerStatus(ObjectReader& status) {
  IssuerStatus out;
  out.conditions = decodeConditions(status);
  if (auto acme = status.object("acme")) {
    AcmeIssuerStatus account;
    account.uri = acme->string("uri").value_or("");
    account.lastRegisteredEmail = acme->string("lastRegisteredEmail").value_or("");
    acme->finish();
    out.acme = account;
  }
  return out;
}

nlohmann::json encodeIssuerSpec(const IssuerSpec& spec) {
  nlohmann::json out = nlohmann::json::object();
  if (spec.selfSigned) out["selfSigned"] = nlohmann::json::object();
  if (spec.ca) out["ca"] = {{"certificateRef", encodeReference(spec.ca->certificateRef)}};
  if (spec.acme) {
    const AcmeIssuer& issuer = *spec.acme;
    nlohmann::json acme = {{"server", issuer.server}};
    if (!issuer.email.empty()) acme["email"] = issuer.email;
    if (!issuer.caBundle.empty()) acme["caBundle"] = issuer.caBundle;
    if (!issuer.preferredChain.empty()) acme["preferredChain"] = issuer.preferredChain;
    if (issuer.externalAccountBinding)
      acme["externalAccountBinding"] = {{"keyID", issuer.externalAccountBinding->keyID},
                                        {"keyFile", issuer.externalAccountBinding->keyFile}};
    nlohmann::json solvers = nlohmann::json::array();
    for (const AcmeSolver& solver : issuer.solvers) {
      nlohmann::json item = encodeSolverType(solver);
      nlohmann::json selector = nlohmann::json::object();
      if (!solver.dnsNames.empty()) selector["dnsNames"] = solver.dnsNames;
      if (!solver.dnsZones.empty()) selector["dnsZones"] = solver.dnsZones;
      if (!selector.empty()) item["selector"] = std::move(selector);
      solvers.push_back(std::move(item));
    }
    acme["solvers"] = std::move(solvers);
    out["acme"] = std::move(acme);
  }
  return out;
}

nlohmann::json encodeIssuerStatus(const IssuerStatus& status) {
  nlohmann::json out = nlohmann::json::object();
  if (!status.conditions.empty()) out["conditions"] = encodeConditions(status.conditions);
  if (status.acme) {
    nlohmann::json acme = nlohmann::json::object();
    if (!status.acme->uri.empty()) acme["uri"] = status.acme->uri;
    if (!status.acme->lastRegisteredEmail.empty())
      acme["lastRegisteredEmail"] = status.acme->lastRegisteredEmail;
    out["acme"] = std::move(acme);
  }
  return out;
}

}  // namespace siteplane::api::codec

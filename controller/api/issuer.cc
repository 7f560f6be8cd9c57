#include "controller/api/issuer.h"

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
    AcmeIssuer issuer;
    if (acme->require("server")) {
      if (auto server = acme->string("server")) {
        if (!isHttpsUrl(*server)) {
          acme->error("server", "must be an https URL, got \"" + *server + "\"");
        }
        issuer.server = *server;
      }
    }
    if (auto email = acme->string("email")) {
      auto at = email->find('@');
      if (at == std::string::npos || at == 0 || at + 1 == email->size()) {
        acme->error("email", "must be an email address, got \"" + *email + "\"");
      }
      issuer.email = *email;
    }
    // http01 is the one solver and always on; the field exists so manifests can say so.
    if (auto http01 = acme->object("http01")) http01->finish();
    acme->finish();
    out.acme = issuer;
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
  return out;
}

nlohmann::json encodeIssuerSpec(const IssuerSpec& spec) {
  nlohmann::json out = nlohmann::json::object();
  if (spec.selfSigned) out["selfSigned"] = nlohmann::json::object();
  if (spec.ca) out["ca"] = {{"certificateRef", encodeReference(spec.ca->certificateRef)}};
  if (spec.acme) {
    nlohmann::json acme = {{"server", spec.acme->server}, {"http01", nlohmann::json::object()}};
    if (!spec.acme->email.empty()) acme["email"] = spec.acme->email;
    out["acme"] = std::move(acme);
  }
  return out;
}

nlohmann::json encodeIssuerStatus(const IssuerStatus& status) {
  nlohmann::json out = nlohmann::json::object();
  if (!status.conditions.empty()) out["conditions"] = encodeConditions(status.conditions);
  return out;
}

}  // namespace siteplane::api::codec

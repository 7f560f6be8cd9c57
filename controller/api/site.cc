#include "controller/api/site.h"

#include <charconv>

#include "controller/api/codec_internal.h"
#include "controller/api/validation.h"

namespace siteplane::api {

const char* toString(ClientCertificateMode mode) {
  switch (mode) {
    case ClientCertificateMode::kIgnore:
      return "Ignore";
    case ClientCertificateMode::kAccept:
      return "Accept";
    case ClientCertificateMode::kRequire:
      return "Require";
  }
  return "Ignore";
}

const char* toString(TlsVersion version) { return version == TlsVersion::k1_3 ? "1.3" : "1.2"; }

std::optional<UpstreamAddress> parseUpstream(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  UpstreamAddress out;
  std::string_view portText;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(rest.substr(1, close - 1));
    if (!isIPv6Address(out.host)) return std::nullopt;
    portText = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(rest.substr(0, colon));
    if (!isDnsName(out.host) && !isIPv4Address(out.host)) return std::nullopt;
    portText = rest.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || portText.empty() ||
      port < 1 || port > 65535) {
    return std::nullopt;
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

namespace codec {

SiteSpec decodeSiteSpec(ObjectReader& spec) {
  SiteSpec out;
  if (auto siteId = spec.integer("siteId")) {
    if (*siteId < 1) {
      spec.error("siteId", "must be at least 1, got " + std::to_string(*siteId));
    } else {
      out.siteId = *siteId;
    }
  }
  bool hasRoot = spec.has("root");
  bool hasUpstream = spec.has("upstream");
  if (auto root = spec.string("root")) {
    if (root->empty()) {
      spec.error("root", "must not be empty");
    } else {
      out.root = spec.context().resolvePath(*root);
    }
  }
  if (auto upstream = spec.string("upstream")) {
    if (!parseUpstream(*upstream)) {
      spec.error("upstream",
                 "must be an http URL of the form http://host:port, got \"" + *upstream + "\"");
    } else {
      out.upstream = *upstream;
    }
  }
  if (hasRoot && hasUpstream) {
    spec.error("upstream", "cannot be set together with root; a Site serves files or proxies");
  } else if (!hasRoot && !hasUpstream) {
    spec.context().error(spec.path(), "one of root or upstream is required");
  }

  if (auto ssl = spec.object("ssl")) {
    SiteSsl& s = out.ssl;
    s.requireSSL = ssl->boolean("requireSSL").value_or(false);
    s.redirectHTTP = ssl->boolean("redirectHTTP").value_or(false);
    if (s.redirectHTTP && !s.requireSSL) {
      ssl->error("redirectHTTP", "requires requireSSL: true");
    }
    s.require128BitCiphers = ssl->boolean("require128BitCiphers").value_or(false);
    if (auto mode = ssl->enumeration("clientCertificate", {"Ignore", "Accept", "Require"})) {
      s.clientCertificate = *mode == "Accept"    ? ClientCertificateMode::kAccept
                            : *mode == "Require" ? ClientCertificateMode::kRequire
                                                 : ClientCertificateMode::kIgnore;
    }
    ssl->objectList("clientCARefs", [&](ObjectReader& item, size_t) {
      ClientCAReference reference;
      if (item.require("name")) {
        if (auto name = item.string("name")) {
          if (!isDns1123Label(*name)) {
            item.error("name", std::string(kDns1123LabelRule) + ", got \"" + *name + "\"");
          }
          reference.name = *name;
        }
      }
      if (auto crlFile = item.string("crlFile")) {
        if (crlFile->empty()) {
          item.error("crlFile", "must not be empty (omit it for a CA without a CRL)");
        } else {
          reference.crlFile = item.context().resolvePath(*crlFile);
        }
      }
      s.clientCARefs.push_back(std::move(reference));
    });
    if (s.clientCertificate != ClientCertificateMode::kIgnore && s.clientCARefs.empty()) {
      ssl->error("clientCARefs", std::string("is required when clientCertificate is ") +
                                     toString(s.clientCertificate));
    }
    if (const auto* version = ssl->get("minTLSVersion"); version && version->is_number()) {
      // An unquoted 1.2 is a YAML float; say how to write it rather than only "wrong type".
      ssl->error("minTLSVersion",
                 "must be the string \"1.2\" or \"1.3\" (quote it), got number " + version->dump());
    } else if (auto text = ssl->enumeration("minTLSVersion", {"1.2", "1.3"})) {
      s.minTLSVersion = *text == "1.3" ? TlsVersion::k1_3 : TlsVersion::k1_2;
    }
    ssl->finish();
  }
  return out;
}

SiteStatus decodeSiteStatus(ObjectReader& status) {
  SiteStatus out;
  out.conditions = decodeConditions(status);
  if (auto siteId = status.integer("siteId")) {
    if (*siteId < 1) {
      status.error("siteId", "must be at least 1, got " + std::to_string(*siteId));
    } else {
      out.siteId = *siteId;
    }
  }
  return out;
}

nlohmann::json encodeSiteSpec(const SiteSpec& spec) {
  nlohmann::json out = nlohmann::json::object();
  if (spec.siteId) out["siteId"] = *spec.siteId;
  if (!spec.root.empty()) out["root"] = spec.root;
  if (!spec.upstream.empty()) out["upstream"] = spec.upstream;
  nlohmann::json ssl = {
      {"requireSSL", spec.ssl.requireSSL},
      {"redirectHTTP", spec.ssl.redirectHTTP},
      {"require128BitCiphers", spec.ssl.require128BitCiphers},
      {"clientCertificate", toString(spec.ssl.clientCertificate)},
      {"minTLSVersion", toString(spec.ssl.minTLSVersion)},
  };
  if (!spec.ssl.clientCARefs.empty()) {
    ssl["clientCARefs"] = nlohmann::json::array();
    for (const auto& reference : spec.ssl.clientCARefs) {
      nlohmann::json encoded = {{"name", reference.name}};
      if (!reference.crlFile.empty()) encoded["crlFile"] = reference.crlFile;
      ssl["clientCARefs"].push_back(std::move(encoded));
    }
  }
  out["ssl"] = std::move(ssl);
  return out;
}

nlohmann::json encodeSiteStatus(const SiteStatus& status) {
  nlohmann::json out = nlohmann::json::object();
  if (!status.conditions.empty()) out["conditions"] = encodeConditions(status.conditions);
  if (status.siteId) out["siteId"] = *status.siteId;
  return out;
}

}  // namespace codec
}  // namespace siteplane::api

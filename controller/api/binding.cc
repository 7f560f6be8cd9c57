#include "controller/api/binding.h"

#include <algorithm>
#include <charconv>

#include "controller/api/codec_internal.h"
#include "controller/api/validation.h"

namespace siteplane::api {

const char* toString(Protocol protocol) { return protocol == Protocol::kHttps ? "https" : "http"; }

namespace {

constexpr const char* kHostNameRule =
    "must be a DNS name such as www.example.com or a wildcard such as *.example.com";

bool isValidHostName(std::string_view host) {
  return host.empty() || isDnsName(host) || isWildcardDnsName(host);
}

}  // namespace

Result<BindingInformation> parseBindingInformation(std::string_view text) {
  using R = Result<BindingInformation>;
  const std::string form =
      "must have the form \"IP:port:hostName\" (e.g. \"*:443:www.contoso.com\")";
  BindingInformation out;
  std::string_view rest = text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos)
      return R::error(form + ", got \"" + std::string(text) + "\"");
    out.address = std::string(rest.substr(1, close - 1));
    if (!isIPv6Address(out.address)) {
      return R::error("IP must be \"*\", an IPv4 address or a bracketed IPv6 address, got \"[" +
                      out.address + "]\"");
    }
    rest.remove_prefix(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return R::error(form + ", got \"" + std::string(text) + "\"");
    }
    rest.remove_prefix(1);
  } else {
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return R::error(form + ", got \"" + std::string(text) + "\"");
    }
    // "::1:443:host" splits into nonsense; say what is wrong instead.
    if (std::count(text.begin(), text.end(), ':') > 2) {
      return R::error(
          "an IPv6 address must be in brackets, as in \"[::1]:443:www.contoso.com\", "
          "got \"" +
          std::string(text) + "\"");
    }
    out.address = std::string(rest.substr(0, colon));
    if (out.address != "*" && !isIPv4Address(out.address)) {
      return R::error("IP must be \"*\", an IPv4 address or a bracketed IPv6 address, got \"" +
                      out.address + "\"");
    }
    rest.remove_prefix(colon + 1);
  }
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) {
    return R::error(form + ", got \"" + std::string(text) + "\"");
  }
  std::string_view portText = rest.substr(0, colon);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (portText.empty() || ec != std::errc() || end != portText.data() + portText.size() ||
      port < 1 || port > 65535) {
    return R::error("port must be between 1 and 65535, got \"" + std::string(portText) + "\"");
  }
  out.port = static_cast<uint16_t>(port);
  out.hostName = std::string(rest.substr(colon + 1));
  if (!isValidHostName(out.hostName)) {
    return R::error("hostName " + std::string(kHostNameRule) + ", got \"" + out.hostName + "\"");
  }
  return out;
}

namespace codec {

BindingSpec decodeBindingSpec(ObjectReader& spec) {
  BindingSpec out;
  if (auto reference = readReference(spec, "siteRef", /*required=*/true)) out.siteRef = *reference;

  bool protocolKnown = false;
  if (spec.require("protocol")) {
    if (auto protocol = spec.enumeration("protocol", {"http", "https"})) {
      out.protocol = *protocol == "https" ? Protocol::kHttps : Protocol::kHttp;
      protocolKnown = true;
    }
  }
  out.port = out.protocol == Protocol::kHttps ? 443 : 80;

  if (auto address = spec.string("address")) {
    if (*address != "*" && !isIPAddress(*address)) {
      spec.error("address", "must be \"*\" or an IPv4/IPv6 address, got \"" + *address + "\"");
    } else {
      out.address = *address;
    }
  }
  if (auto port = spec.integer("port")) {
    if (*port < 1 || *port > 65535) {
      spec.error("port", "must be between 1 and 65535, got " + std::to_string(*port));
    } else {
      out.port = static_cast<uint16_t>(*port);
    }
  }
  if (auto host = spec.string("hostName")) {
    if (!isValidHostName(*host)) {
      spec.error("hostName", std::string(kHostNameRule) + ", got \"" + *host + "\"");
    } else {
      out.hostName = *host;
    }
  }
  if (auto information = spec.string("bindingInformation")) {
    for (const char* field : {"address", "port", "hostName"}) {
      if (spec.has(field)) {
        spec.error(field, "cannot be set together with bindingInformation");
      }
    }
    auto parsed = parseBindingInformation(*information);
    if (!parsed) {
      spec.error("bindingInformation", parsed.message());
    } else {
      out.bindingInformation = *information;
      out.address = parsed->address;
      out.port = parsed->port;
      out.hostName = parsed->hostName;
    }
  }

  bool hasCertificate = spec.has("certificateRef");
  if (auto reference = readReference(spec, "certificateRef", /*required=*/false)) {
    out.certificateRef = *reference;
  }
  if (protocolKnown && out.protocol == Protocol::kHttps && !hasCertificate) {
    spec.error("certificateRef", "is required when protocol is https");
  }
  if (protocolKnown && out.protocol == Protocol::kHttp && hasCertificate) {
    spec.error("certificateRef", "must not be set when protocol is http");
  }
  return out;
}

BindingStatus decodeBindingStatus(ObjectReader& status) {
  BindingStatus out;
  out.conditions = decodeConditions(status);
  out.listenAddress = status.string("listenAddress").value_or("");
  out.servedThumbprint = status.string("servedThumbprint").value_or("");
  if (auto generation = status.integer("tableGeneration")) {
    if (*generation < 0) {
      status.error("tableGeneration", "must not be negative, got " + std::to_string(*generation));
    } else {
      out.tableGeneration = *generation;
    }
  }
  return out;
}

nlohmann::json encodeBindingSpec(const BindingSpec& spec) {
  nlohmann::json out = nlohmann::json::object();
  out["siteRef"] = encodeReference(spec.siteRef);
  out["protocol"] = toString(spec.protocol);
  if (!spec.bindingInformation.empty()) {
    out["bindingInformation"] = spec.bindingInformation;
  } else {
    out["address"] = spec.address;
    out["port"] = spec.port;
    out["hostName"] = spec.hostName;
  }
  if (spec.certificateRef) out["certificateRef"] = encodeReference(*spec.certificateRef);
  return out;
}

nlohmann::json encodeBindingStatus(const BindingStatus& status) {
  nlohmann::json out = nlohmann::json::object();
  if (!status.conditions.empty()) out["conditions"] = encodeConditions(status.conditions);
  if (!status.listenAddress.empty()) out["listenAddress"] = status.listenAddress;
  if (!status.servedThumbprint.empty()) out["servedThumbprint"] = status.servedThumbprint;
  if (status.tableGeneration) out["tableGeneration"] = status.tableGeneration;
  return out;
}

}  // namespace codec
}  // namespace siteplane::api

#include "controller/runtime/explain_query.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace siteplane::runtime {
namespace {

using ClientCertificateState = tls::TlsSession::ClientCertificateState;

const std::vector<std::string> kParameters = {"address", "port", "sni", "host",
                                              "clientCertificate"};

bool isHostNameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

Status checkServerName(const std::string& sni) {
  if (sni.size() > 255) return Status::error("sni: longer than 255 characters");
  for (char c : sni) {
    if (!isHostNameCharacter(c))
      return Status::error("sni: \"" + sni + "\" is not a host name (letters, digits, '-', '.')");
  }
  if (normalizeAddress(sni))
    return Status::error("sni: \"" + sni +
                         "\" is an IP address, which clients never send as SNI (RFC 6066); leave "
                         "it out to explain a client that connects by address");
  return Status::ok();
}

}  // namespace

std::optional<std::string> normalizeAddress(std::string text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  unsigned char binary[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), binary) == 1)
    return std::string(inet_ntop(AF_INET, binary, out, sizeof out));
  if (inet_pton(AF_INET6, text.c_str(), binary) == 1)
    return std::string(inet_ntop(AF_INET6, binary, out, sizeof out));
  return std::nullopt;
}

Result<uint16_t> parsePort(const std::string& parameter, const std::string& text) {
  unsigned number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || number == 0 ||
      number > 65535)
    return Result<uint16_t>::error(parameter + ": \"" + text + "\" is not a port number (1-65535)");
  return static_cast<uint16_t>(number);
}

Status checkParameters(const std::multimap<std::string, std::string>& parameters,
                       const std::vector<std::string>& known) {
  std::set<std::string> seen;
  for (const auto& [name, value] : parameters) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& parameter : known) list += (list.empty() ? "" : ", ") + parameter;
      return Status::error("unknown parameter \"" + name + "\" (" + list + ")");
    }
    if (!seen.insert(name).second) return Status::error(name + ": given more than once");
  }
  return Status::ok();
}

const char* toString(ClientCertificateState state) {
  switch (state) {
    case ClientCertificateState::kValid:
      return "valid";
    case ClientCertificateState::kUntrusted:
      return "untrusted";
    case ClientCertificateState::kExpired:
      return "expired";
    case ClientCertificateState::kRevoked:
      return "revoked";
    case ClientCertificateState::kNone:
      break;
  }
  return "none";
}

Result<ExplainQuery> parseExplainQuery(const std::multimap<std::string, std::string>& parameters) {
  if (Status checked = checkParameters(parameters, kParameters); !checked) return checked;
  auto value = [&](const char* name) -> std::optional<std::string> {
    auto found = parameters.find(name);
    if (found == parameters.end()) return std::nullopt;
    return found->second;
  };

  ExplainQuery query;
  auto address = value("address");
  if (!address)
    return Result<ExplainQuery>::error("address: required (the IP the client connects to)");
  if (*address == "*")
    return Result<ExplainQuery>::error(
        "address: a connection arrives on one address, not \"*\"; give the IP the client connects "
        "to, e.g. 127.0.0.1");
  auto normalized = normalizeAddress(*address);
  if (!normalized)
    return Result<ExplainQuery>::error("address: \"" + *address +
                                       "\" is not an IPv4 or IPv6 address");
  query.address = *normalized;

  auto port = value("port");
  if (!port) return Result<ExplainQuery>::error("port: required");
  auto number = parsePort("port", *port);
  if (!number) return number.status();
  query.port = *number;

  if (auto sni = value("sni")) {
    if (Status checked = checkServerName(*sni); !checked) return checked;
    query.sni = *sni;
  }
  if (auto host = value("host")) {
    for (char c : *host) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        return Result<ExplainQuery>::error("host: contains a control character");
    }
    query.host = *host;
  }
  if (auto certificate = value("clientCertificate")) {
    bool matched = false;
    for (auto state : {ClientCertificateState::kNone, ClientCertificateState::kValid,
                       ClientCertificateState::kUntrusted, ClientCertificateState::kExpired,
                       ClientCertificateState::kRevoked}) {
      if (*certificate == toString(state)) {
        query.clientCertificate = state;
        matched = true;
      }
    }
    if (!matched)
      return Result<ExplainQuery>::error("clientCertificate: \"" + *certificate +
                                         "\" is not none, valid, untrusted, expired or revoked");
  }
  return query;
}

}  // namespace siteplane::runtime

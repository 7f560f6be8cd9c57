#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/api/condition.h"
#include "controller/api/object_meta.h"

namespace siteplane::api {

enum class Protocol { kHttp, kHttps };

const char* toString(Protocol protocol);

// Where a Site listens: IIS "IP:port:hostName".
struct BindingSpec {
  LocalObjectReference siteRef;
  Protocol protocol = Protocol::kHttp;
  // address, port and hostName are always the effective values: when the manifest uses
  // bindingInformation, the decoder fills them from it.
  std::string address = "*";  // "*" or an IPv4/IPv6 literal (IPv6 without brackets)
  uint16_t port = 80;
  std::string hostName;  // "" = any host; "www.example.com"; "*.example.com"
  std::optional<LocalObjectReference> certificateRef;  // https only
  // The IIS form as written ("*:443:www.contoso.com"), kept so that encoding round-trips; empty
  // when the manifest used address/port/hostName.
  std::string bindingInformation;

  bool operator==(const BindingSpec&) const = default;
};

struct BindingStatus {
  std::vector<Condition> conditions;  // Accepted, ResolvedRefs, Conflicted, Programmed
  std::string listenAddress;          // "127.0.0.1:8443"
  std::string servedThumbprint;
  int64_t tableGeneration = 0;

  bool operator==(const BindingStatus&) const = default;
};

struct Binding {
  static constexpr const char* kKind = "Binding";
  ObjectMeta metadata;
  BindingSpec spec;
  BindingStatus status;

  bool operator==(const Binding&) const = default;
};

// IIS bindingInformation "IP:port:hostName": IP is "*", an IPv4 literal or "[IPv6]"; hostName may
// be empty. The error message says which part is wrong.
struct BindingInformation {
  std::string address;  // "*" or the literal without brackets
  uint16_t port = 0;
  std::string hostName;
};
Result<BindingInformation> parseBindingInformation(std::string_view text);

}  // namespace siteplane::api

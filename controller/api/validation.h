#pragma once

// The format rules shared by every kind's validation (and usable by the controller and the API
// server): DNS names, IP literals, label keys, "did you mean" suggestions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/names.h"

namespace siteplane::api {

// Names (metadata.name, references): isDns1123Label and kDns1123LabelRule, common/names.h.

// A host name: dot-separated labels of letters, digits and '-' (not at either end), each at most
// 63 characters, at most 253 in all, at least one label. Case-insensitive.
bool isDnsName(std::string_view text);
// "*." followed by a DNS name.
bool isWildcardDnsName(std::string_view text);

bool isIPv4Address(std::string_view text);
bool isIPv6Address(std::string_view text);
bool isIPAddress(std::string_view text);

// The one text form of a listen address (Binding spec.address, bindingInformation's IP), as the
// data plane names the local address of a connection: "*" for "*" and for the wildcards
// "0.0.0.0" (the netsh habit) and "::" in any spelling; IPv4-mapped IPv6 (::ffff:a.b.c.d) as the
// IPv4 address it maps; other literals as inet_ntop writes them ("0:0::1" -> "::1"). Text that
// is not an address comes back unchanged (validation refuses it).
std::string canonicalListenAddress(std::string_view text);

// A Kubernetes label/annotation key: an optional DNS-subdomain prefix and '/', then a name of at
// most 63 alphanumerics, '-', '_', '.', starting and ending with an alphanumeric.
bool isQualifiedName(std::string_view text);
// A label value: empty, or at most 63 of the same characters as a qualified name's name part.
bool isLabelValue(std::string_view text);

// A condition reason: CamelCase, [A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?, as in metav1.Condition.
bool isConditionReason(std::string_view text);

size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `text` when it is close enough to be a plausible typo (same word in a
// different case, or a small edit distance relative to its length).
std::optional<std::string> closestMatch(std::string_view text,
                                        const std::vector<std::string>& candidates);

}  // namespace siteplane::api

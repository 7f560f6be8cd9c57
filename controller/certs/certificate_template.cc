#include "controller/certs/certificate_template.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace siteplane::certs {
namespace {

// RFC 5280 ub-common-name.
constexpr size_t kMaxCommonNameLength = 64;

bool validLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-'; });
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

bool isValidDnsName(std::string_view name) {
  if (name.size() >= 2 && name.substr(0, 2) == "*.") name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    if (!validLabel(name.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool isIpLiteral(std::string_view text) {
  std::string copy(text);
  std::array<unsigned char, 16> bytes{};
  return inet_pton(AF_INET, copy.c_str(), bytes.data()) == 1 ||
         inet_pton(AF_INET6, copy.c_str(), bytes.data()) == 1;
}

Status validateTemplate(const CertificateTemplate& request) {
  std::vector<std::string> errors;
  if (request.commonName.empty() && request.dnsNames.empty() && request.ipAddresses.empty()) {
    errors.push_back("at least one of commonName, dnsNames or ipAddresses is required");
  }
  if (request.commonName.size() > kMaxCommonNameLength) {
    errors.push_back("commonName: must be at most 64 characters, got " +
                     std::to_string(request.commonName.size()));
  }
  for (size_t i = 0; i < request.dnsNames.size(); ++i) {
    if (!isValidDnsName(request.dnsNames[i])) {
      errors.push_back("dnsNames[" + std::to_string(i) + "]: '" + request.dnsNames[i] +
                       "' is not a valid DNS name");
    }
  }
  for (size_t i = 0; i < request.ipAddresses.size(); ++i) {
    if (!isIpLiteral(request.ipAddresses[i])) {
      errors.push_back("ipAddresses[" + std::to_string(i) + "]: '" + request.ipAddresses[i] +
                       "' is not an IPv4 or IPv6 address");
    }
  }
  if (request.notAfter <= request.notBefore) errors.push_back("notAfter: must be after notBefore");
  if (errors.empty()) return Status::ok();
  std::string message;
  for (const auto& error : errors) message += (message.empty() ? "" : "; ") + error;
  return Status::error(message);
}

std::vector<Usage> effectiveUsages(const CertificateTemplate& request, KeyAlgorithm subjectKey) {
  std::vector<Usage> usages = request.usages.empty() ? defaultUsages() : request.usages;
  if (request.isCA) usages.push_back(Usage::kCertSign);
  if (subjectKey != KeyAlgorithm::kRsa) {
    usages.erase(std::remove(usages.begin(), usages.end(), Usage::kKeyEncipherment), usages.end());
  }
  std::sort(usages.begin(), usages.end());
  usages.erase(std::unique(usages.begin(), usages.end()), usages.end());
  return usages;
}

std::vector<std::string> effectiveDnsNames(const CertificateTemplate& request) {
  std::vector<std::string> names = request.dnsNames;
  const std::string& cn = request.commonName;
  if (!request.isCA && !cn.empty() && !isIpLiteral(cn) && isValidDnsName(cn) &&
      !contains(names, cn)) {
    names.insert(names.begin(), cn);
  }
  return names;
}

std::vector<std::string> effectiveIpAddresses(const CertificateTemplate& request) {
  std::vector<std::string> addresses = request.ipAddresses;
  const std::string& cn = request.commonName;
  if (!request.isCA && !cn.empty() && isIpLiteral(cn) && !contains(addresses, cn))
    addresses.insert(addresses.begin(), cn);
  return addresses;
}

namespace {

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The canonical text of an IP literal (inet_ntop's), so "2001:0db8::1" equals "2001:db8::1".
std::string canonicalIp(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    return inet_ntop(AF_INET, bytes.data(), out, sizeof out) ? out : text;
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
    return inet_ntop(AF_INET6, bytes.data(), out, sizeof out) ? out : text;
  }
  return text;
}

std::vector<std::string> sortedUnique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::string listText(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + values[i];
  return out + "]";
}

void compare(std::vector<std::string>& differences, const std::string& field,
             const std::vector<std::string>& issued, const std::vector<std::string>& wanted) {
  if (issued != wanted) {
    differences.push_back(field + ": certificate has " + listText(issued) + ", spec wants " +
                          listText(wanted));
  }
}

}  // namespace

std::vector<std::string> differencesFrom(const CertificateTemplate& request,
                                         KeyAlgorithm subjectKey, const CertificateInfo& issued) {
  std::vector<std::string> differences;
  if (issued.commonName != request.commonName) {
    differences.push_back("commonName: certificate has '" + issued.commonName + "', spec wants '" +
                          request.commonName + "'");
  }
  std::vector<std::string> issuedNames, wantedNames, issuedIps, wantedIps;
  for (const auto& name : issued.dnsNames) issuedNames.push_back(lowerCase(name));
  for (const auto& name : effectiveDnsNames(request)) wantedNames.push_back(lowerCase(name));
  compare(differences, "dnsNames", sortedUnique(issuedNames), sortedUnique(wantedNames));
  for (const auto& ip : issued.ipAddresses) issuedIps.push_back(canonicalIp(ip));
  for (const auto& ip : effectiveIpAddresses(request)) wantedIps.push_back(canonicalIp(ip));
  compare(differences, "ipAddresses", sortedUnique(issuedIps), sortedUnique(wantedIps));
  if (issued.isCA != request.isCA) {
    differences.push_back(std::string("isCA: certificate has ") + (issued.isCA ? "true" : "false") +
                          ", spec wants " + (request.isCA ? "true" : "false"));
  }
  std::vector<std::string> issuedUsages = issued.keyUsages;
  issuedUsages.insert(issuedUsages.end(), issued.extendedKeyUsages.begin(),
                      issued.extendedKeyUsages.end());
  std::vector<std::string> wantedUsages;
  for (Usage usage : effectiveUsages(request, subjectKey))
    wantedUsages.emplace_back(usageName(usage));
  compare(differences, "usages", sortedUnique(issuedUsages), sortedUnique(wantedUsages));
  return differences;
}

}  // namespace siteplane::certs

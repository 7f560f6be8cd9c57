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

std::vector<Usage> effectiveUsages(const CertificateTemplate& request) {
  std::vector<Usage> usages = request.usages.empty() ? defaultUsages() : request.usages;
  if (request.isCA) usages.push_back(Usage::kCertSign);
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

}  // namespace siteplane::certs

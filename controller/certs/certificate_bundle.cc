#include "controller/certs/certificate_bundle.h"

#include <algorithm>

namespace siteplane::certs {
namespace {

std::string describe(const Certificate& certificate) {
  const CertificateInfo& info = certificate.info();
  if (info.subject.empty()) return "(thumbprint " + info.thumbprint + ", empty subject)";
  return "'" + info.subject + "' (thumbprint " + info.thumbprint + ")";
}

}  // namespace

Result<std::vector<Certificate>> orderChain(std::vector<Certificate> certificates,
                                            const PrivateKey* leafKey) {
  using ChainResult = Result<std::vector<Certificate>>;
  std::vector<Certificate> unique;
  for (auto& certificate : certificates) {
    if (std::find(unique.begin(), unique.end(), certificate) == unique.end()) {
      unique.push_back(std::move(certificate));
    }
  }
  if (unique.empty()) return ChainResult::error("no certificate given");

  std::vector<size_t> leaves;
  for (size_t i = 0; i < unique.size(); ++i) {
    if (leafKey) {
      if (leafKey->matches(unique[i])) leaves.push_back(i);
      continue;
    }
    bool signedAnother = false;
    for (size_t j = 0; j < unique.size() && !signedAnother; ++j) {
      signedAnother = j != i && unique[j].isSignedBy(unique[i]);
    }
    if (!signedAnother) leaves.push_back(i);
  }
  // A key that belongs to none of the certificates is a wrong file (kKeyMismatch); the other
  // failures are certificates that do not form one chain from one leaf (kInvalidChain).
  if (leaves.empty() && leafKey) {
    return ChainResult::error(
        ErrorCode::kKeyMismatch,
        "the private key matches none of the " + std::to_string(unique.size()) + " certificate(s)");
  }
  if (leaves.empty()) {
    return ChainResult::error(
        ErrorCode::kInvalidChain,
        "no certificate is a leaf: the certificates sign each other in a cycle");
  }
  if (leaves.size() > 1) {
    return ChainResult::error(ErrorCode::kInvalidChain,
                              (leafKey ? "the private key matches more than one certificate: "
                                       : "more than one leaf certificate: ") +
                                  describe(unique[leaves[0]]) + " and " +
                                  describe(unique[leaves[1]]) + "; keep only one");
  }

  std::vector<Certificate> chain{unique[leaves.front()]};
  unique.erase(unique.begin() + static_cast<std::ptrdiff_t>(leaves.front()));
  while (!unique.empty()) {
    const Certificate& current = chain.back();
    auto issuer = std::find_if(unique.begin(), unique.end(), [&](const Certificate& candidate) {
      return current.isSignedBy(candidate);
    });
    if (issuer == unique.end() || current.info().selfSigned) {
      return ChainResult::error(ErrorCode::kInvalidChain,
                                "certificate " + describe(unique.front()) +
                                    " is not part of the chain of " + describe(chain.front()));
    }
    chain.push_back(*issuer);
    unique.erase(issuer);
  }
  return chain;
}

}  // namespace siteplane::certs

#pragma once

// The certificates a compile serves: each Certificate of the pass by "namespace/name", and the
// bundle (chain and key) of each Ready one, read from the CertificateStore once per thumbprint and
// kept between passes, so a compile that changes nothing reads no file.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/api/certificate.h"
#include "controller/api/time.h"
#include "controller/certs/certificate_bundle.h"

namespace siteplane::certs {
class CertificateStore;
}

namespace siteplane::compile {

class CertificateCache {
 public:
  // `store` must outlive the cache.
  explicit CertificateCache(const certs::CertificateStore& store) : store_(store) {}

  // The bundle of a Ready certificate, checked against its status thumbprint and its validity,
  // or why there is none (a reason of the compile pass and a message naming the Certificate).
  struct Lookup {
    std::shared_ptr<const certs::CertificateBundle> bundle;
    std::string reason;
    std::string message;
  };

  // The Certificates of this pass; bundles of certificates no longer among them are dropped.
  // `certificates` must outlive the pass.
  void beginPass(const std::vector<api::Certificate>& certificates);
  // The Certificate "namespace/name" of this pass, or nullptr.
  const api::Certificate* find(const std::string& key) const;
  Lookup lookup(const std::string& ns, const std::string& name, api::Time now);

 private:
  struct Loaded {
    std::string thumbprint;
    std::shared_ptr<const certs::CertificateBundle> bundle;
  };

  const certs::CertificateStore& store_;
  std::unordered_map<std::string, const api::Certificate*> byName_;
  std::unordered_map<std::string, Loaded> bundles_;  // "namespace/name"
};

}  // namespace siteplane::compile

#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controller/store/watch_event.h"

namespace siteplane::reconcile {

// Who refers to whom among Certificates and Issuers, learnt from the store's watch events, so
// that a change is mapped to the keys it makes stale without listing the store on every event:
//   Certificate spec.issuerRef.name       -> the Issuer that signs it
//   Issuer spec.ca.certificateRef.name    -> the CA Certificate it signs with
// References never cross namespaces. Thread-safe: observe() runs on the store's watch thread,
// the queries on reconcile workers.
class CertificateDependencies {
 public:
  // Records (or, for a deletion, forgets) what the event's object refers to. Objects of other
  // kinds are ignored.
  void observe(const store::WatchEvent& event);

  // Names of the Issuers in `ns` whose spec.ca.certificateRef names `certificate`, sorted.
  std::vector<std::string> issuersUsingCA(const std::string& ns,
                                          const std::string& certificate) const;
  // Names of the Certificates in `ns` whose spec.issuerRef names `issuer`, sorted.
  std::vector<std::string> certificatesOfIssuer(const std::string& ns,
                                                const std::string& issuer) const;

 private:
  // Each map is keyed "namespace/name" of the referring (forward) or referred-to (reverse)
  // object; the values are names in the same namespace.
  using Forward = std::map<std::string, std::string>;
  using Reverse = std::map<std::string, std::set<std::string>>;
  static void link(Forward& forward, Reverse& reverse, const std::string& ns,
                   const std::string& name, const std::string& target);
  static void unlink(Forward& forward, Reverse& reverse, const std::string& ns,
                     const std::string& name);

  mutable std::mutex mutex_;  // guards everything below
  Forward certificateIssuer_;
  Reverse issuerCertificates_;
  Forward issuerCA_;
  Reverse caIssuers_;
};

}  // namespace siteplane::reconcile

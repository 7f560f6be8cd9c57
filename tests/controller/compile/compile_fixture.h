#pragma once

// Typed objects and a certificate store for the compile pass's tests.

#include <memory>
#include <string>
#include <vector>

#include "controller/api/binding.h"
#include "controller/api/certificate.h"
#include "controller/api/site.h"
#include "controller/certs/certificate_import.h"
#include "controller/certs/certificate_store.h"
#include "tests/support/test_support.h"

namespace siteplane::compile::testing {

using siteplane::testing::TempDir;

inline api::Time at(int64_t seconds) { return api::Time(std::chrono::seconds(seconds)); }

inline api::Site site(const std::string& name, int64_t created = 100) {
  api::Site out;
  out.metadata.name = name;
  out.metadata.generation = 1;
  out.metadata.creationTimestamp = at(created);
  out.spec.root = "/srv/" + name;
  return out;
}

inline api::Binding binding(const std::string& name, const std::string& siteName,
                            api::Protocol protocol, uint16_t port, const std::string& host = "",
                            const std::string& certificate = "", int64_t created = 100) {
  api::Binding out;
  out.metadata.name = name;
  out.metadata.generation = 1;
  out.metadata.creationTimestamp = at(created);
  out.spec.siteRef.name = siteName;
  out.spec.protocol = protocol;
  out.spec.address = "127.0.0.1";
  out.spec.port = port;
  out.spec.hostName = host;
  if (!certificate.empty()) out.spec.certificateRef = api::LocalObjectReference{certificate};
  return out;
}

// A Certificate whose status says Ready with `thumbprint` (what the certificate reconciler
// writes once the pair is in the certificate store).
inline api::Certificate readyCertificate(const std::string& name, const std::string& thumbprint) {
  api::Certificate out;
  out.metadata.name = name;
  out.metadata.generation = 1;
  out.metadata.creationTimestamp = at(100);
  out.spec.dnsNames = {"unused.test"};
  out.spec.issuerRef = api::IssuerReference{"selfsigned", "Issuer"};
  out.status.thumbprint = thumbprint;
  api::Condition ready;
  ready.type = "Ready";
  ready.status = api::ConditionStatus::kTrue;
  ready.reason = "Issued";
  out.status.conditions.push_back(ready);
  return out;
}

struct CertificateFixture {
  TempDir dir;
  std::unique_ptr<certs::CertificateStore> store = [this] {
    auto opened = certs::CertificateStore::open(dir.path() / "certificates");
    if (!opened) throw std::runtime_error(opened.message());
    return std::move(opened).value();
  }();

  // Generates a certificate for `dnsNames`, stores it under default/<name> and returns its
  // thumbprint.
  std::string put(const std::string& name, const std::vector<std::string>& dnsNames,
                  const std::string& days = "30") {
    auto made = siteplane::testing::makeCertificate(dir.path() / "pem", name, dnsNames, nullptr,
                                                    false, days);
    auto bundle = certs::importPemFiles(made.cert, made.key);
    if (!bundle) throw std::runtime_error(bundle.message());
    auto stored = store->put("default/" + name, *bundle);
    if (!stored) throw std::runtime_error(stored.message());
    return made.thumbprint;
  }
};

}  // namespace siteplane::compile::testing

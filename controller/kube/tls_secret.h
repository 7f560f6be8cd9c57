#pragma once

// A Certificate's material as a `kubernetes.io/tls` Secret, the form cert-manager and every
// ingress controller use: `tls.crt` (the chain, leaf first), `tls.key` (PEM), `ca.crt` (the last
// certificate of the chain: the issuing CA, or the certificate itself when self-signed). The
// Secret is owned by its Certificate (ownerReferences, so deleting the Certificate collects it)
// and labelled with the Certificate's name, so a replica watches only these Secrets.

#include <nlohmann/json.hpp>
#include <string>

#include "common/object_key.h"
#include "common/status.h"
#include "controller/certs/certificate_bundle.h"

namespace siteplane::kube {

// The label on every Secret siteplane writes; its value is the Certificate's name.
inline constexpr const char* kCertificateLabel = "siteplane.io/certificate";
inline constexpr const char* kFieldManager = "siteplane";

// spec.secretName of a stored Certificate, `<name>-tls` when absent.
std::string secretNameOf(const nlohmann::json& certificate);

// The server-side apply body of the Secret holding `bundle` for `certificate` (a stored
// Certificate: name, namespace and uid are read from it).
nlohmann::json tlsSecretFor(const nlohmann::json& certificate,
                            const certs::CertificateBundle& bundle);

// What a watched Secret holds for its Certificate.
struct SecretMaterial {
  ObjectKey certificate;  // the Certificate the label names
  certs::CertificateBundle bundle;
};

// The certificate and key of a kubernetes.io/tls Secret (tls.crt, chain in any order, and
// tls.key), checked as an import is: the key matches the leaf, the chain is one chain. Errors name
// the Secret, never key material.
Result<certs::CertificateBundle> bundleOf(const nlohmann::json& secret);

// The Certificate key and bundle of a Secret written by tlsSecretFor (or by hand, in that form).
// An error names the Secret and what is wrong (no label, missing field, not base64, a key that
// does not match the leaf); key material never appears in it.
Result<SecretMaterial> materialOf(const nlohmann::json& secret);

}  // namespace siteplane::kube

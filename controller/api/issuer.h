#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/api/condition.h"
#include "controller/api/object_meta.h"

namespace siteplane::api {

struct SelfSignedIssuer {
  bool operator==(const SelfSignedIssuer&) const = default;
};

// A CA Certificate (isCA: true) that signs the certificates of this Issuer.
struct CAIssuer {
  LocalObjectReference certificateRef;
  bool operator==(const CAIssuer&) const = default;
};

// RFC 8555. The only solver is http01, served by the data plane itself.
struct AcmeIssuer {
  std::string server;  // https URL of the directory
  std::string email;
  bool operator==(const AcmeIssuer&) const = default;
};

// Exactly one of selfSigned, ca and acme is set.
struct IssuerSpec {
  std::optional<SelfSignedIssuer> selfSigned;
  std::optional<CAIssuer> ca;
  std::optional<AcmeIssuer> acme;

  bool operator==(const IssuerSpec&) const = default;
};

struct IssuerStatus {
  std::vector<Condition> conditions;  // Ready
  bool operator==(const IssuerStatus&) const = default;
};

struct Issuer {
  static constexpr const char* kKind = "Issuer";
  ObjectMeta metadata;
  IssuerSpec spec;
  IssuerStatus status;

  bool operator==(const Issuer&) const = default;
};

}  // namespace siteplane::api

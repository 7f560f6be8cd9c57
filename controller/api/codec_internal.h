#pragma once

// Internal to controller/api: the per-kind halves of decodeObject/encodeObject. Each decode
// function reads its part strictly (calling finish() on every reader it opens), applies defaults
// and validates; errors go to the reader's DecodeContext.

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "controller/api/binding.h"
#include "controller/api/certificate.h"
#include "controller/api/issuer.h"
#include "controller/api/object_reader.h"
#include "controller/api/site.h"

namespace siteplane::api::codec {

ObjectMeta decodeMetadata(ObjectReader& reader);
nlohmann::json encodeMetadata(const ObjectMeta& metadata);

// Reads status.conditions.
std::vector<Condition> decodeConditions(ObjectReader& status);
nlohmann::json encodeConditions(const std::vector<Condition>& conditions);

std::optional<Time> readTime(ObjectReader& reader, std::string_view field);
// A {name} reference; reports "is required" when absent and `required`.
std::optional<LocalObjectReference> readReference(ObjectReader& reader, std::string_view field,
                                                  bool required);
nlohmann::json encodeReference(const LocalObjectReference& reference);

SiteSpec decodeSiteSpec(ObjectReader& spec);
SiteStatus decodeSiteStatus(ObjectReader& status);
nlohmann::json encodeSiteSpec(const SiteSpec& spec);
nlohmann::json encodeSiteStatus(const SiteStatus& status);

BindingSpec decodeBindingSpec(ObjectReader& spec);
BindingStatus decodeBindingStatus(ObjectReader& status);
nlohmann::json encodeBindingSpec(const BindingSpec& spec);
nlohmann::json encodeBindingStatus(const BindingStatus& status);

CertificateSpec decodeCertificateSpec(ObjectReader& spec);
CertificateStatus decodeCertificateStatus(ObjectReader& status);
nlohmann::json encodeCertificateSpec(const CertificateSpec& spec);
nlohmann::json encodeCertificateStatus(const CertificateStatus& status);

IssuerSpec decodeIssuerSpec(ObjectReader& spec);
IssuerStatus decodeIssuerStatus(ObjectReader& status);
nlohmann::json encodeIssuerSpec(const IssuerSpec& spec);
nlohmann::json encodeIssuerStatus(const IssuerStatus& status);

}  // namespace siteplane::api::codec

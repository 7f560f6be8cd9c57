#pragma once

// Turns objects into a meta.k8s.io/v1 `Table` (what `kubectl get` asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`) using the CRD's printer columns: a
// leading Name column, then each additionalPrinterColumn's JSONPath evaluated on the object.
// Columns of type date render as a relative age ("5m", "3d") the way Kubernetes does.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/apiserver/resource_registry.h"

namespace siteplane::apiserver {

// Kubernetes' duration.HumanDuration ("45s", "3m12s", "5h", "12d", "2y").
std::string humanDuration(std::chrono::seconds age);

class TableConverter {
 public:
  // `now` is the time ages are measured against (injectable for tests).
  TableConverter(const ResourceType& type, std::chrono::system_clock::time_point now);

  nlohmann::json columnDefinitions() const;
  nlohmann::json row(const nlohmann::json& object) const;
  // A complete Table of `objects`; `includeHeaders` false omits columnDefinitions (watch
  // events after the first, as Kubernetes does).
  nlohmann::json table(const std::vector<nlohmann::json>& objects,
                       const std::string& resourceVersion, bool includeHeaders = true) const;

 private:
  nlohmann::json cell(const PrinterColumn& column, const nlohmann::json& object) const;

  const ResourceType& type_;
  std::chrono::system_clock::time_point now_;
};

// Parses an RFC 3339 timestamp ("2026-11-25T06:40:31Z", fractional seconds and offsets
// accepted); false when it is not one.
bool parseRfc3339(const std::string& text, std::chrono::system_clock::time_point& out);
std::string formatRfc3339(std::chrono::system_clock::time_point time);

}  // namespace siteplane::apiserver

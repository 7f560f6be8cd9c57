#pragma once

// GET /openapi/v2 (and the legacy /swagger-2.0.0.pb-v1): the Swagger 2.0 document older kubectls
// (1.20 and earlier, and any client without OpenAPI v3) download for client-side validation,
// `kubectl explain` and apply's patch logic. It is built from the same documents as /openapi/v3
// and answered as kube-apiserver does: JSON when JSON is asked for, gnostic's protobuf
// openapi_v2.Document for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, with an
// ETag so a client's cached copy gets 304. Both encodings are made once, at startup.

#include <nlohmann/json.hpp>
#include <string>

#include "controller/apiserver/api_request.h"
#include "controller/apiserver/open_api.h"

namespace siteplane::apiserver {

class OpenApiV2 {
 public:
  explicit OpenApiV2(const OpenApi& v3);

  // The swagger 2.0 document, as JSON.
  const nlohmann::json& document() const { return document_; }
  // The protobuf encoding; empty when encoding failed (protobufError() says where).
  const std::string& protobuf() const { return protobuf_; }
  const std::string& protobufError() const { return protobufError_; }

  // The answer to GET `request`; `protobufOnly` for /swagger-2.0.0.pb-v1, which has no JSON.
  ApiResponse respond(const ApiRequest& request, bool protobufOnly) const;

 private:
  nlohmann::json document_;
  std::string json_;
  std::string jsonEtag_;
  std::string protobuf_;
  std::string protobufEtag_;
  std::string protobufError_;
};

}  // namespace siteplane::apiserver

#pragma once

// What the files of ApiHandler share (api_handler.cc routes, api_read.cc reads, api_write.cc and
// api_commit.cc write, api_probes.cc answers the process's own paths): the parsed resource URL,
// the rendering the client asked for, and the helpers that build replies. Internal to this
// folder: only the handler's own .cc files include it.

#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/json_fields.h"
#include "common/status.h"
#include "controller/apiserver/api_error.h"
#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/api_request.h"
#include "controller/apiserver/resource_registry.h"

namespace siteplane::apiserver {

struct ApiHandler::Target {
  const ResourceType* type = nullptr;
  std::optional<std::string> ns;  // set when the URL names a namespace
  std::string name;               // empty for the collection
  std::string subresource;        // "" or "status"
};

struct ApiHandler::Output {
  enum class Form { kObject, kTable, kPartialMetadata } form = Form::kObject;
};

struct ApiHandler::Committed {
  // Implicit, so that a write refused before it reaches the store returns its reply as it is.
  Committed(ApiReply reply, std::optional<ErrorCode> storeError = std::nullopt)  // NOLINT
      : reply(std::move(reply)), storeError(storeError) {}

  ApiReply reply;
  // The store's code when the store refused the write (guaranteedUpdate starts over on
  // kConflict and kAlreadyExists); nothing when it stored it or the write was refused before.
  std::optional<ErrorCode> storeError;
};

// The handler's logger, "controller.apiserver".
std::shared_ptr<spdlog::logger> log();

ApiResponse jsonResponse(int status, const nlohmann::json& body,
                         std::string contentType = "application/json");
ApiResponse textResponse(int status, std::string body);
ApiReply reply(ApiResponse response);
ApiReply reply(const ApiError& error);

// The answer to a failed store operation on `name`, in Kubernetes' wording; the HTTP status and
// reason follow from the code (httpStatusOf, reasonOf).
ApiError fromStoreError(const Status& error, const ResourceType& type, const std::string& name);

// Kubernetes' wording for an invalid object, with every field path:
//   Binding.siteplane.io "web" is invalid: [spec.port: Invalid value: ..., spec.siteRef: ...]
ApiError invalidObject(const ResourceType& type, const std::string& name,
                       std::vector<StatusCause> causes);

}  // namespace siteplane::apiserver

#include "controller/reconcile/status_writer.h"

#include "controller/api/object_codec.h"

namespace siteplane::reconcile {

Result<bool> writeStatusIfChanged(store::Store& store, const api::Object& object,
                                  const store::ObjectPtr& stored) {
  nlohmann::json encoded = api::encodeObject(object);
  nlohmann::json status = encoded.value("status", nlohmann::json::object());
  nlohmann::json current = stored->value("status", nlohmann::json::object());
  if (status == current) return false;
  const nlohmann::json& metadata = (*stored)["metadata"];
  nlohmann::json update = {{"apiVersion", (*stored)["apiVersion"]},
                           {"kind", (*stored)["kind"]},
                           {"metadata",
                            {{"name", metadata["name"]},
                             {"namespace", metadata["namespace"]},
                             {"resourceVersion", metadata["resourceVersion"]}}},
                           {"status", std::move(status)}};
  auto written = store.updateStatus(std::move(update));
  if (!written) return written.status();
  return true;
}

}  // namespace siteplane::reconcile

#include "server/runtime_view.h"

#include <map>
#include <string>
#include <utility>

#include "controller/runtime/explanation.h"
#include "controller/runtime/listener_errors.h"
#include "controller/runtime/sslcert_report.h"

namespace siteplane::server {

apiserver::RuntimeView runtimeView(const loop::DataPlane* dataPlane) {
  auto live = [dataPlane] {
    loop::DataPlane::LiveTable live = dataPlane->liveTable();
    runtime::ListenerErrors closed;
    for (const auto& listener : live.listeners)
      if (!listener.listening) closed.emplace(listener.key, listener.error);
    return std::make_pair(std::move(live.table), std::move(closed));
  };
  apiserver::RuntimeView view;
  view.sslcert =
      [live](const std::multimap<std::string, std::string>& query) -> Result<nlohmann::json> {
    auto filter = runtime::parseSslCertFilter(query);
    if (!filter) return filter.status();
    auto [table, closed] = live();
    return runtime::toJson(runtime::sslCertReport(table.get(), closed, *filter));
  };
  view.explain =
      [live](const std::multimap<std::string, std::string>& query) -> Result<nlohmann::json> {
    auto parsed = runtime::parseExplainQuery(query);
    if (!parsed) return parsed.status();
    auto [table, closed] = live();
    return runtime::toJson(runtime::explain(table.get(), *parsed, closed));
  };
  return view;
}

}  // namespace siteplane::server

#pragma once

// An in-process API server over a fresh store, for handler tests: no sockets, a fixed clock.

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/sized_thread.h"
#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/embedded_crds.h"
#include "controller/store/store.h"
#include "tests/support/test_support.h"

namespace siteplane::apiserver::testing {

inline std::chrono::system_clock::time_point fixedNow() {
  return std::chrono::system_clock::from_time_t(1790000000);  // 2026-09-21T...Z
}

struct Harness {
  explicit Harness(ApiHandlerOptions options = {}) {
    auto made = store::Store::create(dir.path(), clock);
    if (!made) throw std::runtime_error(made.message());
    store = std::move(made).value();
    auto registry = builtinResourceRegistry();
    if (!registry) throw std::runtime_error(registry.message());
    options.clock = &clock;
    handler = std::make_unique<ApiHandler>(*store, std::move(registry).value(), options);
  }

  ApiReply call(const std::string& method, const std::string& target, const std::string& body = "",
                Headers headers = {}) {
    if (!body.empty() && !headers.count("Content-Type"))
      headers["Content-Type"] = "application/json";
    // On a thread like the API server's pool threads: deep bodies need their stack size.
    std::optional<ApiReply> reply;
    auto ran = siteplane::testing::runWithStack(kDeepJsonStackBytes, [&] {
      reply = handler->handle(ApiRequest::make(method, target, body, std::move(headers)));
    });
    if (!ran) throw std::runtime_error(ran.message());
    return std::move(*reply);
  }
  nlohmann::json json(const ApiReply& reply) { return nlohmann::json::parse(reply.response.body); }

  // Stands still at fixedNow(): managedFields and creationTimestamp times are known.
  FakeClock clock{FakeClock::TimePoint(std::chrono::hours(1)), fixedNow()};
  siteplane::testing::TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ApiHandler> handler;
};

inline const std::string kBindings = "/apis/siteplane.io/v1alpha1/namespaces/default/bindings";
inline const std::string kSites = "/apis/siteplane.io/v1alpha1/namespaces/default/sites";

inline nlohmann::json site(const std::string& name, const std::string& root = "/srv/www") {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Site"},
          {"metadata", {{"name", name}}},
          {"spec", {{"root", root}}}};
}

inline nlohmann::json binding(const std::string& name, int port, const std::string& site = "web") {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Binding"},
          {"metadata", {{"name", name}, {"labels", {{"tier", "web"}}}}},
          {"spec", {{"siteRef", {{"name", site}}}, {"protocol", "http"}, {"port", port}}}};
}

// Collects what a watch writes.
class CollectingSink : public WatchSink {
 public:
  void write(std::string chunk) override {
    std::lock_guard lock(mutex_);
    chunks_.push_back(std::move(chunk));
  }
  std::vector<nlohmann::json> events() {
    std::lock_guard lock(mutex_);
    std::vector<nlohmann::json> out;
    for (const auto& chunk : chunks_) out.push_back(nlohmann::json::parse(chunk));
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> chunks_;
};

}  // namespace siteplane::apiserver::testing

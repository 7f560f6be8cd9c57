#pragma once

// A store, a certificate store and the Certificate and Issuer reconcilers on a temporary state
// directory, with a wall clock the test advances. Shared by the reconciler test files.

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/api/condition.h"
#include "controller/api/object_codec.h"
#include "controller/certs/certificate_store.h"
#include "controller/reconcile/certificate_reconciler.h"
#include "controller/reconcile/issuer_reconciler.h"
#include "controller/store/store.h"
#include "tests/support/test_support.h"

namespace siteplane::reconcile::testing {

using nlohmann::json;
using std::chrono::system_clock;

inline json issuerObject(const std::string& name, json spec) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Issuer"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

inline json certificateObject(const std::string& name, json spec) {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", "Certificate"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

inline std::string certificateKey(const std::string& name) { return "Certificate/default/" + name; }
inline std::string issuerKey(const std::string& name) { return "Issuer/default/" + name; }

struct ReconcileFixture {
  siteplane::testing::TempDir state;
  siteplane::testing::TempDir manifests;
  // Whole seconds of real time, so that certificates the openssl CLI checks against the real
  // clock are valid for it too; advance() moves only what the reconcilers see.
  const system_clock::time_point start =
      std::chrono::floor<std::chrono::seconds>(system_clock::now());
  // The reconcilers' and the store's clock; advance() moves it.
  FakeClock clock{FakeClock::TimePoint(std::chrono::hours(1)), start};

  std::unique_ptr<store::Store> store;
  std::unique_ptr<certs::CertificateStore> certificates;
  std::shared_ptr<events::EventRecorder> events;
  std::unique_ptr<CertificateReconciler> certificateReconciler;
  std::unique_ptr<IssuerReconciler> issuerReconciler;
  // Handed to the Certificate reconciler by open(); set it, then restart().
  std::function<void(const std::string&, std::vector<std::filesystem::path>)> watchSourceFiles;
  // Handed to the Certificate reconciler by open() (null: no restriction); set it, then restart().
  std::shared_ptr<const certs::ImportPathPolicy> importPolicy;
  // CertificateReconcilerOptions::readSecret (null: the embedded server); set it, then restart().
  std::function<Result<certs::CertificateBundle>(const std::string&, const std::string&)>
      readSecret;

  ReconcileFixture() { open(); }

  system_clock::time_point now() const { return clock.wallNow(); }
  void advance(std::chrono::seconds step) { clock.advance(step); }

  // Opens everything on the state directory, as a (re)start of the process does.
  void open() {
    auto opened = store::Store::create(state.path(), clock);
    REQUIRE(opened.isOk());
    store = std::move(opened).value();
    auto openedCertificates = certs::CertificateStore::open(state.path() / "certificates");
    REQUIRE(openedCertificates.isOk());
    certificates = std::move(openedCertificates).value();
    CertificateReconcilerOptions options;
    options.manifestsDir = manifests.path();
    options.clock = &clock;
    options.watchSourceFiles = watchSourceFiles;
    options.importPolicy = importPolicy;
    options.readSecret = readSecret;
    events = std::make_shared<events::EventRecorder>(
        *store, events::EventRecorderOptions{.component = "test", .clock = &clock});
    options.events = events;
    certificateReconciler = std::make_unique<CertificateReconciler>(*store, *certificates, options);
    issuerReconciler =
        std::make_unique<IssuerReconciler>(*store, *certificates, IssuerReconcilerOptions{&clock});
  }
  void restart() {
    certificateReconciler.reset();
    issuerReconciler.reset();
    events.reset();
    certificates.reset();
    store.reset();
    open();
  }

  void create(const json& object) {
    auto created = store->createObject(object);
    if (!created) FAIL("create: " << created.message());
  }
  // Replaces the spec of a stored object, as an edited manifest does.
  void updateSpec(const std::string& kind, const std::string& name, json spec) {
    auto current = store->get({kind, "default", name});
    REQUIRE(current.isOk());
    json object = **current;
    object["spec"] = std::move(spec);
    object.erase("status");
    auto updated = store->updateObject(object);
    if (!updated) FAIL("update: " << updated.message());
  }
  void remove(const std::string& kind, const std::string& name) {
    auto removed = store->removeObject({kind, "default", name});
    REQUIRE(removed.isOk());
  }

  ReconcileResult reconcileCertificate(const std::string& name) {
    return certificateReconciler->reconcile(certificateKey(name));
  }
  ReconcileResult reconcileIssuer(const std::string& name) {
    return issuerReconciler->reconcile(issuerKey(name));
  }

  // Reconciles every Issuer and Certificate until a round writes nothing (level-triggered: the
  // order does not matter, only that dependents see their dependencies' status).
  void settle() {
    for (int round = 0; round < 8; ++round) {
      uint64_t before = store->resourceVersion();
      for (const auto& item : store->list({"Issuer", std::nullopt, {}}).items)
        (void)issuerReconciler->reconcile("Issuer/default/" +
                                          (*item)["metadata"]["name"].get<std::string>());
      for (const auto& item : store->list({"Certificate", std::nullopt, {}}).items)
        (void)certificateReconciler->reconcile("Certificate/default/" +
                                               (*item)["metadata"]["name"].get<std::string>());
      if (store->resourceVersion() == before) return;
    }
    FAIL("the reconcilers did not settle");
  }

  api::Certificate certificate(const std::string& name) {
    auto stored = store->get({"Certificate", "default", name});
    REQUIRE(stored.isOk());
    auto decoded = api::decodeObject(**stored);
    REQUIRE(decoded.ok());
    return std::get<api::Certificate>(*decoded.object);
  }
  api::Issuer issuer(const std::string& name) {
    auto stored = store->get({"Issuer", "default", name});
    REQUIRE(stored.isOk());
    auto decoded = api::decodeObject(**stored);
    REQUIRE(decoded.ok());
    return std::get<api::Issuer>(*decoded.object);
  }
  certs::CertificateBundle bundle(const std::string& name) {
    auto stored = certificates->get("default/" + name);
    REQUIRE(stored.isOk());
    REQUIRE(stored->has_value());
    return **stored;
  }
};

inline const api::Condition& condition(const std::vector<api::Condition>& conditions,
                                       const std::string& type) {
  const api::Condition* found = api::findCondition(conditions, type);
  if (!found) FAIL("no " << type << " condition");
  return *found;
}

// "True/Reason" of a condition, so a failed check shows both.
inline std::string stateOf(const std::vector<api::Condition>& conditions, const std::string& type) {
  const api::Condition* found = api::findCondition(conditions, type);
  if (!found) return "absent";
  return std::string(api::toString(found->status)) + "/" + found->reason;
}

}  // namespace siteplane::reconcile::testing

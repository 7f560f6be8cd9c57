#include "controller/apiserver/field_manager.h"

#include <catch2/catch.hpp>

using namespace siteplane::apiserver;
using nlohmann::json;

namespace {

const std::string kVersion = "siteplane.io/v1alpha1";

json applied(int port, const std::string& host = "") {
  json object = {{"apiVersion", kVersion},
                 {"kind", "Binding"},
                 {"metadata", {{"name", "web"}, {"labels", {{"tier", "web"}}}}},
                 {"spec", {{"siteRef", {{"name", "web"}}}, {"protocol", "http"}, {"port", port}}}};
  if (!host.empty()) object["spec"]["hostName"] = host;
  return object;
}

}  // namespace

TEST_CASE("FieldSet lists the leaf fields a user sets, skipping server metadata and status",
          "[apiserver][fieldmanager]") {
  json object = applied(80);
  object["metadata"]["uid"] = "x";
  object["metadata"]["resourceVersion"] = "4";
  object["status"] = {{"listenAddress", "0.0.0.0:80"}};
  FieldSet set = FieldSet::fromObject(object, "");
  CHECK(set.toFieldsV1() == json{{"f:metadata", {{"f:labels", {{"f:tier", json::object()}}}}},
                                 {"f:spec",
                                  {{"f:siteRef", {{"f:name", json::object()}}},
                                   {"f:protocol", json::object()},
                                   {"f:port", json::object()}}}});
  FieldSet status = FieldSet::fromObject(object, "status");
  CHECK(status.toFieldsV1() == json{{"f:status", {{"f:listenAddress", json::object()}}}});
  CHECK(FieldSet::fromFieldsV1(set.toFieldsV1()).paths() == set.paths());
}

TEST_CASE("Server-side apply creates, then conflicts with another manager on a changed value",
          "[apiserver][fieldmanager]") {
  ApplyOutcome first = applyConfiguration(json(), applied(80), "alice", false, "", kVersion, "t1");
  REQUIRE(first.conflicts.empty());
  CHECK(first.object["spec"]["port"] == 80);
  REQUIRE(first.object["metadata"]["managedFields"].size() == 1);
  CHECK(first.object["metadata"]["managedFields"][0]["manager"] == "alice");
  CHECK(first.object["metadata"]["managedFields"][0]["operation"] == "Apply");

  // Same values: shared ownership, no conflict.
  ApplyOutcome shared =
      applyConfiguration(first.object, applied(80), "bob", false, "", kVersion, "t2");
  REQUIRE(shared.conflicts.empty());
  CHECK(shared.object["metadata"]["managedFields"].size() == 2);

  ApplyOutcome refused =
      applyConfiguration(first.object, applied(81), "bob", false, "", kVersion, "t2");
  REQUIRE(refused.conflicts.size() == 1);
  CHECK(refused.conflicts[0].manager == "alice");
  CHECK(formatFieldPath(refused.conflicts[0].path) == ".spec.port");
  CHECK(conflictMessage(refused.conflicts) ==
        "Apply failed with 1 conflict: conflict with \"alice\" using siteplane.io/v1alpha1: "
        ".spec.port");

  ApplyOutcome forced =
      applyConfiguration(first.object, applied(81), "bob", true, "", kVersion, "t2");
  REQUIRE(forced.conflicts.empty());
  CHECK(forced.object["spec"]["port"] == 81);
  auto entries = readManagedFields(forced.object);
  REQUIRE(entries.size() == 2);
  CHECK_FALSE(entries[0].fields.overlaps({"spec", "port"}));  // alice lost it
  CHECK(entries[1].fields.overlaps({"spec", "port"}));        // bob owns it
}

TEST_CASE("Server-side apply removes fields the manager stopped applying",
          "[apiserver][fieldmanager]") {
  ApplyOutcome first = applyConfiguration(json(), applied(80, "www.example.com"), "alice", false,
                                          "", kVersion, "t1");
  REQUIRE(first.object["spec"].contains("hostName"));
  ApplyOutcome second =
      applyConfiguration(first.object, applied(80), "alice", false, "", kVersion, "t2");
  REQUIRE(second.conflicts.empty());
  CHECK_FALSE(second.object["spec"].contains("hostName"));
  CHECK(second.object["spec"]["port"] == 80);
}

TEST_CASE("An update takes the fields it changed away from other managers",
          "[apiserver][fieldmanager]") {
  ApplyOutcome first = applyConfiguration(json(), applied(80), "alice", false, "", kVersion, "t1");
  json updated = first.object;
  updated["spec"]["port"] = 90;
  recordUpdate(first.object, updated, "kubectl-edit", "", kVersion, "t2");
  auto entries = readManagedFields(updated);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].manager == "alice");
  CHECK_FALSE(entries[0].fields.overlaps({"spec", "port"}));
  CHECK(entries[1].manager == "kubectl-edit");
  CHECK(entries[1].operation == "Update");
  CHECK(entries[1].fields.paths() == std::set<FieldPath>{{"spec", "port"}});

  // Now alice re-applying port 80 conflicts with kubectl-edit.
  ApplyOutcome again = applyConfiguration(updated, applied(80), "alice", false, "", kVersion, "t3");
  REQUIRE(again.conflicts.size() == 1);
  CHECK(again.conflicts[0].manager == "kubectl-edit");
}

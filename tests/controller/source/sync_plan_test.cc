// The manifest sync's plan on its own: files and stored objects in, writes and conflicts out.

#include "controller/source/sync_plan.h"

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/annotations.h"

namespace siteplane::source {
namespace {

using nlohmann::json;
using Action = PlannedWrite::Action;

json site(const std::string& name, const std::string& file, const std::string& root = "/srv") {
  json object = {{"apiVersion", "siteplane.io/v1alpha1"},
                 {"kind", "Site"},
                 {"metadata", {{"name", name}, {"namespace", "default"}}},
                 {"spec", {{"root", root}}}};
  if (!file.empty()) object["metadata"]["annotations"][kManifestFileAnnotation] = file;
  return object;
}

store::ObjectPtr stored(json object, const std::string& resourceVersion = "7") {
  object["metadata"]["resourceVersion"] = resourceVersion;
  return std::make_shared<const json>(std::move(object));
}

std::map<ObjectKey, store::ObjectPtr> storeOf(std::vector<json> objects) {
  std::map<ObjectKey, store::ObjectPtr> out;
  for (auto& object : objects) {
    ObjectKey key = declaredKey(object);
    out.emplace(std::move(key), stored(std::move(object)));
  }
  return out;
}

std::string describe(const SyncPlan& plan) {
  std::string out;
  for (const auto& write : plan.writes) {
    out += write.action == Action::kCreate   ? "create "
           : write.action == Action::kUpdate ? "update "
                                             : "prune ";
    out += write.key.name + ";";
  }
  return out;
}

}  // namespace

TEST_CASE("planSync creates, updates and prunes what the files declare, and nothing else",
          "[controller][source][plan]") {
  const std::vector<json> a = {site("new", "a.yaml"), site("changed", "a.yaml", "/srv/v2"),
                               site("same", "a.yaml")};
  const std::map<std::string, DeclaringFile> files = {{"a.yaml", {true, true, &a}}};
  const auto store = storeOf({site("changed", "a.yaml", "/srv/v1"), site("same", "a.yaml"),
                              site("gone", "old.yaml"), site("from-api", "")});

  const SyncPlan plan = planSync(files, store, "/manifests");

  // In key order (kind, namespace, name), prunes last.
  CHECK(describe(plan) == "update changed;create new;prune gone;");
  CHECK(plan.unchanged == 1);
  CHECK(plan.conflicts.empty());
  CHECK(plan.invalidFiles == 0);
  // The update carries the stored resourceVersion, so a concurrent write makes it a Conflict.
  CHECK(plan.writes[0].op.object["metadata"]["resourceVersion"] == "7");
  CHECK(plan.writes[1].detail == "a.yaml");
  CHECK(plan.writes[2].detail == "\"old.yaml\"");
}

TEST_CASE("planSync keeps every object a broken file owns, declared or not",
          "[controller][source][plan]") {
  const std::vector<json> lastGood = {site("kept", "broken.yaml", "/srv/old")};
  const std::map<std::string, DeclaringFile> files = {
      {"broken.yaml", {false, true, &lastGood}},  // loaded once, broken now
      {"never.yaml", {false, false, nullptr}},    // never loaded since the start
  };
  const auto store =
      storeOf({site("kept", "broken.yaml", "/srv/old"), site("dropped-from-broken", "broken.yaml"),
               site("owned-by-never", "never.yaml")});

  const SyncPlan plan = planSync(files, store, "/manifests");

  // A broken file may still declare what its last good version no longer did: nothing annotated
  // with it is pruned until it loads again, nor anything of a file that never loaded.
  CHECK(describe(plan).empty());
  CHECK(plan.invalidFiles == 2);
  CHECK(plan.unchanged == 1);
}

TEST_CASE("planSync gives an object two files declare to its owner, else the first path",
          "[controller][source][plan]") {
  const std::vector<json> a = {site("shared", "a.yaml", "/srv/a"), site("fresh", "a.yaml")};
  const std::vector<json> b = {site("shared", "b.yaml", "/srv/b"), site("fresh", "b.yaml")};
  const std::map<std::string, DeclaringFile> files = {{"a.yaml", {true, true, &a}},
                                                      {"b.yaml", {true, true, &b}}};
  const auto store = storeOf({site("shared", "b.yaml", "/srv/b")});

  const SyncPlan plan = planSync(files, store, "/manifests");

  // "shared" stays b.yaml's (unchanged); "fresh" goes to a.yaml, the first in path order.
  CHECK(describe(plan) == "create fresh;");
  REQUIRE(plan.writes.size() == 1);
  CHECK(plan.writes[0].op.object["metadata"]["annotations"][kManifestFileAnnotation] == "a.yaml");
  CHECK(plan.conflicts.at("a.yaml") ==
        "/manifests/a.yaml: Site \"shared\" in namespace \"default\" is already declared by "
        "b.yaml\n");
  CHECK(plan.conflicts.at("b.yaml") ==
        "/manifests/b.yaml: Site \"fresh\" in namespace \"default\" is already declared by "
        "a.yaml\n");
}

}  // namespace siteplane::source

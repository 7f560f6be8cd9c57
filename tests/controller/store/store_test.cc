#include "controller/store/store.h"

#include <catch2/catch.hpp>
#include <mutex>
#include <regex>
#include <thread>

#include "controller/apiserver/api_error.h"
#include "tests/controller/store/store_fixture.h"

namespace siteplane::store {
namespace {

using namespace siteplane::store::testing;

TEST_CASE("Store create assigns uid, creationTimestamp, generation and resourceVersion",
          "[controller][store]") {
  StoreFixture f;
  auto created = f.store->createObject(site("www"));
  REQUIRE(created.isOk());
  const json& metadata = (**created)["metadata"];
  CHECK(std::regex_match(
      metadata["uid"].get<std::string>(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  CHECK(metadata["creationTimestamp"] == "2025-11-25T06:40:00Z");
  CHECK(metadata["generation"] == 1);
  CHECK(metadata["namespace"] == "default");
  CHECK(metadata["resourceVersion"] == "1");
  CHECK(f.store->resourceVersion() == 1);

  auto second = f.store->createObject(site("shop"));
  REQUIRE(second.isOk());
  CHECK(versionOf(**second) == "2");
  CHECK((**second)["metadata"]["uid"] != metadata["uid"]);

  auto fetched = f.store->get(siteKey("www"));
  REQUIRE(fetched.isOk());
  CHECK(**fetched == **created);
}

TEST_CASE("Store create drops status and overwrites client-set server fields",
          "[controller][store]") {
  StoreFixture f;
  json input = site("www");
  input["status"] = {{"siteId", 7}};
  input["metadata"]["uid"] = "not-mine";
  input["metadata"]["generation"] = 42;
  auto created = f.store->createObject(input);
  REQUIRE(created.isOk());
  CHECK_FALSE((*created)->contains("status"));
  CHECK((**created)["metadata"]["uid"] != "not-mine");
  CHECK((**created)["metadata"]["generation"] == 1);
}

TEST_CASE("Store create rejects a resourceVersion and an existing key", "[controller][store]") {
  StoreFixture f;
  json withVersion = site("www");
  withVersion["metadata"]["resourceVersion"] = "5";
  auto rejected = f.store->createObject(withVersion);
  REQUIRE_FALSE(rejected.isOk());
  CHECK(rejected.code() == ErrorCode::kInvalid);
  CHECK(rejected.message() ==
        "Site \"www\" is invalid: metadata.resourceVersion: must not be set on create");

  REQUIRE(f.store->createObject(site("www")).isOk());
  auto duplicate = f.store->createObject(site("www"));
  REQUIRE_FALSE(duplicate.isOk());
  CHECK(duplicate.code() == ErrorCode::kAlreadyExists);
  CHECK(apiserver::httpStatusOf(duplicate.code()) == 409);
  CHECK(duplicate.message() == "Site \"default/www\" already exists");

  // The same name in another namespace or of another kind is another object.
  json other = site("www");
  other["metadata"]["namespace"] = "staging";
  CHECK(f.store->createObject(other).isOk());
  json binding = site("www");
  binding["kind"] = "Binding";
  CHECK(f.store->createObject(binding).isOk());
}

TEST_CASE("Store rejects objects it cannot key, naming every bad field", "[controller][store]") {
  StoreFixture f;
  struct Case {
    json object;
    std::string message;
  };
  json noKind = site("www");
  noKind.erase("kind");
  json badName = site("Www_1");
  json badNamespace = site("www");
  badNamespace["metadata"]["namespace"] = "Prod";
  json badLabels = site("www", {{"root", "/srv"}}, {{"tier", 3}, {"-bad", "x"}});
  json badLabelValue = site("www", {{"root", "/srv"}}, {{"tier", "front end"}});
  json noMetadata = {{"apiVersion", "siteplane.io/v1alpha1"}, {"kind", "Site"}};
  json lowerKind = site("www");
  lowerKind["kind"] = "site";
  json badAnnotation = site("www");
  badAnnotation["metadata"]["annotations"] = {{"note", json::array()}};
  std::vector<Case> cases = {
      {noKind, "object \"www\" is invalid: kind: required"},
      {badName,
       "Site \"Www_1\" is invalid: metadata.name: \"Www_1\" is not a DNS-1123 label (lower-case "
       "letters, digits and '-', alphanumeric at both ends, at most 63 characters)"},
      {badNamespace,
       "Site \"www\" is invalid: metadata.namespace: \"Prod\" is not a DNS-1123 label"},
      {badLabels,
       "Site \"www\" is invalid: metadata.labels.-bad: not a valid key (name or prefix/name); "
       "metadata.labels.tier: must be a string"},
      {badLabelValue,
       "Site \"www\" is invalid: metadata.labels.tier: \"front end\" is not a valid label value "
       "(at "
       "most 63 characters, alphanumeric at both ends, '-', '_', '.' inside)"},
      {noMetadata, "Site is invalid: metadata: required"},
      {lowerKind,
       "site \"www\" is invalid: kind: \"site\" is not a kind (PascalCase letters and digits)"},
      {badAnnotation, "Site \"www\" is invalid: metadata.annotations.note: must be a string"},
      {json::array(), "object is invalid: must be a JSON object"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.object.dump());
    auto result = f.store->createObject(c.object);
    REQUIRE_FALSE(result.isOk());
    CHECK(result.code() == ErrorCode::kInvalid);
    CHECK(apiserver::httpStatusOf(result.code()) == 422);
    CHECK(result.message() == c.message);
  }
  CHECK(f.store->resourceVersion() == 0);
}

TEST_CASE("Store rejects strings that are not UTF-8 before writing anything",
          "[controller][store]") {
  StoreFixture f;
  auto rejected = f.store->createObject(site("www", {{"root", "/srv/\xff"}}));
  REQUIRE_FALSE(rejected.isOk());
  CHECK(rejected.code() == ErrorCode::kInvalid);
  CHECK(rejected.message() == "Site \"www\" is invalid: contains a string that is not valid UTF-8");
  CHECK(f.store->resourceVersion() == 0);
  CHECK_FALSE(f.store->get(siteKey("www")).isOk());
}

TEST_CASE("Store update bumps generation only when the spec changes", "[controller][store]") {
  StoreFixture f;
  auto created = f.store->createObject(site("www"));
  REQUIRE(created.isOk());

  json relabeled = **created;
  relabeled["metadata"]["labels"] = {{"tier", "web"}};
  relabeled["metadata"]["annotations"] = {{"siteplane.io/source", "sites.yaml"}};
  auto labeled = f.store->updateObject(relabeled);
  REQUIRE(labeled.isOk());
  CHECK((**labeled)["metadata"]["generation"] == 1);
  CHECK(versionNumber(**labeled) > versionNumber(**created));
  CHECK((**labeled)["metadata"]["labels"]["tier"] == "web");
  CHECK((**labeled)["metadata"]["uid"] == (**created)["metadata"]["uid"]);
  CHECK((**labeled)["metadata"]["creationTimestamp"] ==
        (**created)["metadata"]["creationTimestamp"]);

  json respec = **labeled;
  respec["spec"]["root"] = "/srv/other";
  auto changed = f.store->updateObject(respec);
  REQUIRE(changed.isOk());
  CHECK((**changed)["metadata"]["generation"] == 2);
  CHECK(versionNumber(**changed) > versionNumber(**labeled));

  // A client cannot move generation: it is server-managed.
  json forged = **changed;
  forged["metadata"]["generation"] = 40;
  forged["spec"]["upstream"] = "http://127.0.0.1:8080";
  auto bumped = f.store->updateObject(forged);
  REQUIRE(bumped.isOk());
  CHECK((**bumped)["metadata"]["generation"] == 3);
}

TEST_CASE("Store update with a stale resourceVersion or another uid is a Conflict",
          "[controller][store]") {
  StoreFixture f;
  auto created = f.store->createObject(site("www"));
  REQUIRE(created.isOk());
  json first = **created;
  first["spec"]["root"] = "/a";
  REQUIRE(f.store->updateObject(first).isOk());

  json stale = **created;  // still carries resourceVersion 1
  stale["spec"]["root"] = "/b";
  auto rejected = f.store->updateObject(stale);
  REQUIRE_FALSE(rejected.isOk());
  CHECK(rejected.code() == ErrorCode::kConflict);
  CHECK(apiserver::httpStatusOf(rejected.code()) == 409);
  CHECK(apiserver::reasonOf(rejected.code()) == "Conflict");
  CHECK(rejected.message() ==
        "Operation cannot be fulfilled on Site \"default/www\": the object has been modified "
        "(resourceVersion 1 is not 2); please apply your changes to the latest version and try "
        "again");
  CHECK((**f.store->get(siteKey("www")))["spec"]["root"] == "/a");

  json otherUid = site("www", {{"root", "/c"}});
  otherUid["metadata"]["uid"] = "00000000-0000-4000-8000-000000000000";
  auto uidConflict = f.store->updateObject(otherUid);
  REQUIRE_FALSE(uidConflict.isOk());
  CHECK(uidConflict.code() == ErrorCode::kConflict);

  // Without a resourceVersion the update is unconditional (last writer wins).
  auto unconditional = f.store->updateObject(site("www", {{"root", "/d"}}));
  REQUIRE(unconditional.isOk());
  CHECK((**unconditional)["spec"]["root"] == "/d");

  // updateStatus follows the same rule.
  json staleStatus = **created;
  staleStatus["status"] = {{"siteId", 1}};
  auto statusRejected = f.store->updateStatus(staleStatus);
  REQUIRE_FALSE(statusRejected.isOk());
  CHECK(statusRejected.code() == ErrorCode::kConflict);
}

TEST_CASE("Store update ignores status, and a no-op update changes nothing",
          "[controller][store]") {
  StoreFixture f;
  REQUIRE(f.store->createObject(site("www")).isOk());
  json withStatus = site("www");
  withStatus["status"] = {{"siteId", 3}};
  auto withStatusResult = f.store->updateStatus(withStatus);
  REQUIRE(withStatusResult.isOk());
  uint64_t before = f.store->resourceVersion();

  json update = **withStatusResult;
  update["status"] = {{"siteId", 99}};  // ignored: status changes only through updateStatus
  auto same = f.store->updateObject(update);
  REQUIRE(same.isOk());
  CHECK((**same)["status"]["siteId"] == 3);
  CHECK(f.store->resourceVersion() == before);
  CHECK(versionNumber(**same) == before);

  // Empty and absent label maps are the same state.
  json emptyLabels = **same;
  emptyLabels["metadata"]["labels"] = json::object();
  CHECK(f.store->updateObject(emptyLabels).isOk());
  CHECK(f.store->resourceVersion() == before);

  // An update without status keeps the stored status.
  json noStatus = site("www");
  auto kept = f.store->updateObject(noStatus);
  REQUIRE(kept.isOk());
  CHECK((**kept)["status"]["siteId"] == 3);
  CHECK(f.store->resourceVersion() == before);
}

TEST_CASE("Store updateStatus changes only status and keeps generation", "[controller][store]") {
  StoreFixture f;
  auto created = f.store->createObject(site("www", {{"root", "/srv"}}, {{"tier", "web"}}));
  REQUIRE(created.isOk());

  json request = **created;
  request["spec"]["root"] = "/ignored";
  request["metadata"]["labels"]["tier"] = "ignored";
  request["status"] = {{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}};
  auto updated = f.store->updateStatus(request);
  REQUIRE(updated.isOk());
  CHECK((**updated)["status"]["conditions"][0]["type"] == "Ready");
  CHECK((**updated)["spec"]["root"] == "/srv");
  CHECK((**updated)["metadata"]["labels"]["tier"] == "web");
  CHECK((**updated)["metadata"]["generation"] == 1);
  uint64_t version = versionNumber(**updated);
  CHECK(version > versionNumber(**created));

  // Writing the same status again is a no-op.
  request["metadata"]["resourceVersion"] = versionOf(**updated);
  auto again = f.store->updateStatus(request);
  REQUIRE(again.isOk());
  CHECK(versionNumber(**again) == version);
  CHECK(f.store->resourceVersion() == version);

  json notAnObject = site("www");
  notAnObject["status"] = "Ready";
  auto rejected = f.store->updateStatus(notAnObject);
  REQUIRE_FALSE(rejected.isOk());
  CHECK(rejected.message() == "Site \"www\" is invalid: status: must be an object");

  auto missing = f.store->updateStatus(site("nope"));
  REQUIRE_FALSE(missing.isOk());
  CHECK(missing.code() == ErrorCode::kNotFound);
}

TEST_CASE("Store removeObject honours its resourceVersion precondition and returns the last state",
          "[controller][store]") {
  StoreFixture f;
  auto created = f.store->createObject(site("www"));
  REQUIRE(created.isOk());
  json changed = **created;
  changed["spec"]["root"] = "/new";
  REQUIRE(f.store->updateObject(changed).isOk());

  auto stale = f.store->removeObject(siteKey("www"), "1");
  REQUIRE_FALSE(stale.isOk());
  CHECK(stale.code() == ErrorCode::kConflict);
  CHECK(f.store->get(siteKey("www")).isOk());

  auto removed = f.store->removeObject(siteKey("www"), "2");
  REQUIRE(removed.isOk());
  CHECK((**removed)["spec"]["root"] == "/new");
  CHECK(versionOf(**removed) == "3");  // the deletion's resourceVersion
  CHECK(f.store->resourceVersion() == 3);

  auto gone = f.store->get(siteKey("www"));
  REQUIRE_FALSE(gone.isOk());
  CHECK(gone.code() == ErrorCode::kNotFound);
  CHECK(apiserver::httpStatusOf(gone.code()) == 404);
  CHECK(gone.message() == "Site \"default/www\" not found");

  auto again = f.store->removeObject(siteKey("www"));
  REQUIRE_FALSE(again.isOk());
  CHECK(again.code() == ErrorCode::kNotFound);

  // A re-created object is a new object: new uid, generation 1.
  auto recreated = f.store->createObject(site("www"));
  REQUIRE(recreated.isOk());
  CHECK((**recreated)["metadata"]["uid"] != (**created)["metadata"]["uid"]);
  CHECK((**recreated)["metadata"]["generation"] == 1);
  CHECK(versionOf(**recreated) == "4");
}

TEST_CASE("Store update of a missing object is NotFound", "[controller][store]") {
  StoreFixture f;
  auto missing = f.store->updateObject(site("www"));
  REQUIRE_FALSE(missing.isOk());
  CHECK(missing.code() == ErrorCode::kNotFound);
  CHECK(apiserver::reasonOf(missing.code()) == "NotFound");
  CHECK(f.store->resourceVersion() == 0);
}

TEST_CASE("Store list filters by kind, namespace and label selector, in key order",
          "[controller][store]") {
  StoreFixture f;
  auto add = [&](const std::string& kind, const std::string& ns, const std::string& name,
                 json labels) {
    json object = site(name, {{"root", "/srv"}}, std::move(labels));
    object["kind"] = kind;
    object["metadata"]["namespace"] = ns;
    REQUIRE(f.store->createObject(object).isOk());
  };
  add("Site", "default", "zeta", {{"tier", "web"}});
  add("Site", "default", "alpha", {{"tier", "api"}, {"canary", "true"}});
  add("Site", "staging", "beta", {{"tier", "web"}});
  add("Binding", "default", "alpha", {{"tier", "web"}});
  add("Certificate", "default", "alpha", nullptr);

  auto names = [](const ObjectList& list) {
    std::vector<std::string> out;
    for (const auto& item : list.items) {
      out.push_back((*item)["kind"].get<std::string>() + "/" +
                    (*item)["metadata"]["namespace"].get<std::string>() + "/" +
                    (*item)["metadata"]["name"].get<std::string>());
    }
    return out;
  };
  auto selector = [](const std::string& text) { return LabelSelector::parse(text).value(); };

  CHECK(names(f.store->list({"Site", std::nullopt, {}})) ==
        std::vector<std::string>{"Site/default/alpha", "Site/default/zeta", "Site/staging/beta"});
  CHECK(names(f.store->list({"Site", "default", {}})) ==
        std::vector<std::string>{"Site/default/alpha", "Site/default/zeta"});
  CHECK(names(f.store->list({"Site", "staging", {}})) ==
        std::vector<std::string>{"Site/staging/beta"});
  CHECK(names(f.store->list({"Site", std::nullopt, selector("tier=web")})) ==
        std::vector<std::string>{"Site/default/zeta", "Site/staging/beta"});
  CHECK(names(f.store->list({"Site", std::nullopt, selector("!canary")})) ==
        std::vector<std::string>{"Site/default/zeta", "Site/staging/beta"});
  CHECK(
      names(f.store->list({"", "default", selector("tier in (web,api)")})) ==
      std::vector<std::string>{"Binding/default/alpha", "Site/default/alpha", "Site/default/zeta"});
  CHECK(names(f.store->list({"Issuer", std::nullopt, {}})).empty());
  CHECK(names(f.store->list({"", std::nullopt, {}})).size() == 5);

  ObjectList all = f.store->list({"Site", std::nullopt, {}});
  CHECK(all.resourceVersion == f.store->resourceVersion());
}

TEST_CASE("Stored objects are shared snapshots: a later write does not change them",
          "[controller][store]") {
  StoreFixture f;
  auto created = f.store->createObject(site("www"));
  REQUIRE(created.isOk());
  ObjectPtr snapshot = *created;
  json changed = *snapshot;
  changed["spec"]["root"] = "/changed";
  REQUIRE(f.store->updateObject(changed).isOk());
  CHECK((*snapshot)["spec"]["root"] == "/srv/www");
}

TEST_CASE("ObjectKey formats and parses Kind/namespace/name", "[controller][store]") {
  ObjectKey key{"Binding", "default", "www-https"};
  CHECK(key.toString() == "Binding/default/www-https");
  auto parsed = ObjectKey::parse("Binding/default/www-https");
  REQUIRE(parsed.isOk());
  CHECK(*parsed == key);
  for (const char* bad : {"Binding/default", "Binding/default/a/b", "binding/default/a",
                          "Binding/Default/a", "Binding//a", ""}) {
    CAPTURE(bad);
    auto result = ObjectKey::parse(bad);
    REQUIRE_FALSE(result.isOk());
    CHECK(result.code() == ErrorCode::kInvalid);
  }
}

TEST_CASE("parseResourceVersion accepts only a decimal number", "[controller][store]") {
  CHECK(parseResourceVersion("12").value() == 12);
  CHECK(parseResourceVersion("12a").code() == ErrorCode::kInvalid);
  CHECK(parseResourceVersion("").code() == ErrorCode::kInvalid);
  CHECK(parseResourceVersion("-1").code() == ErrorCode::kInvalid);
}

}  // namespace
}  // namespace siteplane::store

namespace siteplane::store {
namespace {

using namespace siteplane::store::testing;

TEST_CASE("Store upsertObject creates a missing object and updates an existing one",
          "[controller][store]") {
  StoreFixture f;
  auto created = f.store->upsertObject(site("www"));
  REQUIRE(created.isOk());
  CHECK((**created)["metadata"]["generation"] == 1);
  CHECK(versionOf(**created) == "1");

  auto same = f.store->upsertObject(site("www"));
  REQUIRE(same.isOk());
  CHECK(versionOf(**same) == "1");  // unchanged manifest: no write

  auto changed = f.store->upsertObject(site("www", {{"root", "/srv/new"}}));
  REQUIRE(changed.isOk());
  CHECK((**changed)["metadata"]["generation"] == 2);
  CHECK((**changed)["metadata"]["uid"] == (**created)["metadata"]["uid"]);

  json expectsExisting = site("gone");
  expectsExisting["metadata"]["resourceVersion"] = "1";
  auto missing = f.store->upsertObject(expectsExisting);
  REQUIRE_FALSE(missing.isOk());
  CHECK(missing.code() == ErrorCode::kNotFound);
}

TEST_CASE("Store writeBatch applies operations in order, each succeeding or failing on its own",
          "[controller][store]") {
  StoreFixture f;
  REQUIRE(f.store->createObject(site("old")).isOk());
  std::vector<std::string> events;
  Subscription subscription = f.store->subscribe([&](const WatchEvent& event) {
    events.push_back(std::string(toString(event.type)) + " " + event.key.name + " " +
                     std::to_string(event.resourceVersion));
  });

  json status = site("www");
  status["status"] = {{"siteId", 4}};
  std::vector<WriteOp> ops;
  ops.push_back(WriteOp::create(site("www")));
  ops.push_back(WriteOp::create(site("www")));          // AlreadyExists: sees the first
  ops.push_back(WriteOp::updateStatus(status));         // sees the create
  ops.push_back(WriteOp::update(site("missing")));      // NotFound
  ops.push_back(WriteOp::upsert(site("old")));          // unchanged: no write
  ops.push_back(WriteOp::remove(siteKey("old"), "7"));  // stale precondition
  ops.push_back(WriteOp::remove(siteKey("old")));
  ops.push_back(WriteOp::create(site("Bad_Name")));  // Invalid
  auto results = f.store->writeBatch(std::move(ops));

  REQUIRE(results.size() == 8);
  REQUIRE(results[0].isOk());
  CHECK(versionOf(*results[0].value()) == "2");
  CHECK(results[1].code() == ErrorCode::kAlreadyExists);
  REQUIRE(results[2].isOk());
  CHECK((*results[2].value())["status"]["siteId"] == 4);
  CHECK(versionOf(*results[2].value()) == "3");
  CHECK(results[3].code() == ErrorCode::kNotFound);
  REQUIRE(results[4].isOk());
  CHECK(versionOf(*results[4].value()) == "1");
  CHECK(results[5].code() == ErrorCode::kConflict);
  REQUIRE(results[6].isOk());
  CHECK(versionOf(*results[6].value()) == "4");
  CHECK(results[7].code() == ErrorCode::kInvalid);

  CHECK(events == std::vector<std::string>{"ADDED www 2", "MODIFIED www 3", "DELETED old 4"});
  CHECK(f.store->resourceVersion() == 4);

  f.reopen();
  auto www = f.store->get(siteKey("www"));
  REQUIRE(www.isOk());
  CHECK((**www)["status"]["siteId"] == 4);
  CHECK(versionOf(**www) == "3");
  CHECK_FALSE(f.store->get(siteKey("old")).isOk());
}

TEST_CASE("Store writeBatch persists a large batch that survives a reopen", "[controller][store]") {
  StoreFixture f;
  std::vector<WriteOp> ops;
  for (int i = 0; i < 500; ++i) {
    std::string name = "site";
    name += std::to_string(i);
    ops.push_back(WriteOp::upsert(site(name, {{"root", "/srv"}, {"index", i}})));
  }
  auto results = f.store->writeBatch(std::move(ops));
  for (const auto& result : results) REQUIRE(result.isOk());
  CHECK(f.store->resourceVersion() == 500);
  f.reopen();
  ObjectList all = f.store->list({"Site", std::nullopt, {}});
  REQUIRE(all.items.size() == 500);
  CHECK((**f.store->get(siteKey("site499")))["spec"]["index"] == 499);
  CHECK(versionOf(**f.store->get(siteKey("site499"))) == "500");
  // Nothing but the object files, the counter and the lock file is left behind.
  size_t files = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(f.state.path() / "objects")) {
    if (entry.is_regular_file()) {
      ++files;
      CHECK(entry.path().extension() != ".tmp");
    }
  }
  CHECK(files == 502);
}

TEST_CASE("Store commits concurrent writers together, each getting its own results in order",
          "[controller][store]") {
  StoreFixture f;
  constexpr int kThreads = 8;
  constexpr int kWrites = 40;
  std::mutex eventsMutex;
  std::vector<uint64_t> versions;
  Subscription subscription = f.store->subscribe([&](const WatchEvent& event) {
    std::lock_guard lock(eventsMutex);
    versions.push_back(event.resourceVersion);
  });

  std::vector<std::thread> writers;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      std::string name = "site";
      name += std::to_string(t);
      auto fail = [&](const std::string& what) {
        if (errors[t].empty()) errors[t] = what;
      };
      auto created = f.store->createObject(site(name));
      if (!created) return fail("create: " + created.message());
      for (int i = 0; i < kWrites; ++i) {
        json status = site(name);
        status["status"] = {{"siteId", i}};
        auto written = f.store->updateStatus(status);
        if (!written) return fail("status: " + written.message());
        if ((**written)["status"]["siteId"] != i) fail("another writer's result");
        // A write of the same key with a stale precondition fails on its own; the group it
        // was committed with is not affected.
        json stale = site(name);
        stale["metadata"]["resourceVersion"] = versionOf(**created);
        stale["status"] = {{"siteId", -1}};
        auto conflict = f.store->updateStatus(stale);
        if (conflict.isOk() || conflict.code() != ErrorCode::kConflict)
          fail("stale write accepted");
      }
    });
  }
  for (auto& writer : writers) writer.join();
  for (const auto& error : errors) CHECK(error.empty());

  // One create and kWrites status writes per thread, each with its own resourceVersion, and
  // the events in resourceVersion order.
  constexpr uint64_t kTotal = kThreads * (kWrites + 1);
  CHECK(f.store->resourceVersion() == kTotal);
  {
    std::lock_guard lock(eventsMutex);
    REQUIRE(versions.size() == kTotal);
    for (size_t i = 0; i < versions.size(); ++i) CHECK(versions[i] == i + 1);
  }
  subscription.cancel();
  f.reopen();
  for (int t = 0; t < kThreads; ++t) {
    std::string name = "site";
    name += std::to_string(t);
    auto stored = f.store->get(siteKey(name));
    REQUIRE(stored.isOk());
    CHECK((**stored)["status"]["siteId"] == kWrites - 1);
  }
}

}  // namespace
}  // namespace siteplane::store

#include "controller/source/manifest_source.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>

#include "controller/manifest/manifest_loader.h"
#include "tests/support/test_support.h"

namespace siteplane::source {
namespace {

namespace fs = std::filesystem;
using siteplane::testing::TempDir;
using siteplane::testing::waitUntil;

std::string siteYaml(const std::string& name, const std::string& root) {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: " + name +
         "\nspec:\n  root: " + root + "\n";
}

struct SourceFixture {
  TempDir dir;
  fs::path manifests = dir.path() / "manifests";
  std::unique_ptr<store::Store> store = [this] {
    auto opened = store::Store::create(dir.path() / "state");
    if (!opened) throw std::runtime_error(opened.message());
    return std::move(opened).value();
  }();

  SourceFixture() { fs::create_directories(manifests); }

  void write(const fs::path& relative, const std::string& content) const {
    fs::create_directories((manifests / relative).parent_path());
    std::ofstream(manifests / relative) << content;
  }

  std::unique_ptr<ManifestSource> source(
      std::chrono::milliseconds debounce = std::chrono::milliseconds(50)) {
    ManifestSourceOptions options;
    options.directory = manifests;
    options.debounce = debounce;
    auto created = ManifestSource::create(*store, options);
    if (!created) throw std::runtime_error(created.message());
    return std::move(created).value();
  }

  std::string rootOf(const std::string& site) const {
    auto found = store->get({"Site", "default", site});
    if (!found) return "";
    return (**found)["spec"].value("root", "");
  }
};

}  // namespace

TEST_CASE("ManifestSource stores what the files declare with their owner annotation",
          "[controller][source]") {
  SourceFixture fixture;
  fixture.write("a.yaml", siteYaml("one", "/srv/one") + "---\n" + siteYaml("two", "/srv/two"));
  fixture.write("nested/b.yml", siteYaml("three", "/srv/three"));
  fixture.write(".hidden/c.yaml", siteYaml("hidden", "/srv/hidden"));
  fixture.write("notes.txt", "not a manifest");
  auto source = fixture.source();
  SyncReport report = source->syncNow();
  CHECK(report.files == 2);
  CHECK(report.created == 3);
  CHECK(fixture.rootOf("two") == "/srv/two");
  CHECK(fixture.rootOf("hidden").empty());
  auto three = fixture.store->get({"Site", "default", "three"});
  REQUIRE(three);
  CHECK((**three)["metadata"]["annotations"][kManifestFileAnnotation] == "nested/b.yml");

  SECTION("an unchanged directory writes nothing") {
    uint64_t version = fixture.store->resourceVersion();
    SyncReport again = source->syncNow();
    CHECK(again.created + again.updated + again.deleted == 0);
    CHECK(fixture.store->resourceVersion() == version);
  }

  SECTION("a removed document is pruned, a removed file prunes all of its objects") {
    fixture.write("a.yaml", siteYaml("one", "/srv/one"));
    CHECK(source->syncNow().deleted == 1);
    CHECK_FALSE(fixture.store->get({"Site", "default", "two"}));
    fs::remove(fixture.manifests / "nested/b.yml");
    CHECK(source->syncNow().deleted == 1);
    CHECK_FALSE(fixture.store->get({"Site", "default", "three"}));
    CHECK(fixture.rootOf("one") == "/srv/one");
  }

  SECTION("an object created through the API is never pruned") {
    nlohmann::json api = {{"apiVersion", "siteplane.io/v1alpha1"},
                          {"kind", "Site"},
                          {"metadata", {{"name", "from-api"}}},
                          {"spec", {{"root", "/srv/api"}}}};
    REQUIRE(fixture.store->createObject(api));
    source->syncNow();
    CHECK(fixture.rootOf("from-api") == "/srv/api");
  }
}

TEST_CASE("ManifestSource keeps a broken file's objects and records one event per change",
          "[controller][source]") {
  SourceFixture fixture;
  fixture.write("a.yaml", siteYaml("one", "/srv/one"));
  auto source = fixture.source();
  source->syncNow();

  fixture.write("a.yaml", siteYaml("one", "/srv/changed") + "  bogus: [\n");
  SyncReport broken = source->syncNow();
  CHECK(broken.invalidFiles == 1);
  CHECK(fixture.rootOf("one") == "/srv/one");
  store::ObjectList events = fixture.store->list({"Event", std::nullopt, {}});
  REQUIRE(events.items.size() == 1);
  const auto& event = *events.items[0];
  CHECK(event["reason"] == "InvalidManifest");
  CHECK(event["type"] == "Warning");
  CHECK(event["count"] == 1);
  CHECK(event["message"].get<std::string>().find("a.yaml:8:1: invalid YAML") != std::string::npos);

  // Rescanning the same broken file reports nothing new.
  source->syncNow();
  CHECK((*fixture.store->list({"Event", std::nullopt, {}}).items[0])["count"] == 1);

  // A different error is a new change.
  fixture.write("a.yaml", siteYaml("one", "/srv/changed") + "  port: 1\n");
  source->syncNow();
  auto changed = fixture.store->list({"Event", std::nullopt, {}});
  REQUIRE(changed.items.size() == 1);
  CHECK((*changed.items[0])["count"] == 2);
  CHECK((*changed.items[0])["message"].get<std::string>().find("spec.port") != std::string::npos);

  fixture.write("a.yaml", siteYaml("one", "/srv/fixed"));
  source->syncNow();
  CHECK(fixture.rootOf("one") == "/srv/fixed");
  CHECK(fixture.store->list({"Event", std::nullopt, {}}).items.empty());
}

TEST_CASE("ManifestSource protects the objects of a file that is broken at start",
          "[controller][source]") {
  SourceFixture fixture;
  fixture.write("a.yaml", siteYaml("one", "/srv/one"));
  fixture.source()->syncNow();
  // A restart finds the file broken: its objects from the last run stay.
  fixture.write("a.yaml", "kind: [\n");
  auto restarted = fixture.source();
  CHECK(restarted->syncNow().deleted == 0);
  CHECK(fixture.rootOf("one") == "/srv/one");
}

TEST_CASE("ManifestSource leaves an object to the file that declared it first",
          "[controller][source]") {
  SourceFixture fixture;
  fixture.write("b.yaml", siteYaml("one", "/srv/b"));
  auto source = fixture.source();
  source->syncNow();
  fixture.write("a.yaml", siteYaml("one", "/srv/a"));
  source->syncNow();
  CHECK(fixture.rootOf("one") == "/srv/b");  // b.yaml owned it first, even though a sorts first
  auto events = fixture.store->list({"Event", std::nullopt, {}});
  REQUIRE(events.items.size() == 1);
  CHECK((*events.items[0])["message"].get<std::string>().find("already declared by b.yaml") !=
        std::string::npos);
}

TEST_CASE("ManifestSource follows a Kubernetes ConfigMap mount through the ..data flip",
          "[controller][source]") {
  SourceFixture fixture;
  // The kubelet's layout: ..<timestamp>/ holds the files, ..data points at it, and each key is a
  // symlink through ..data.
  fs::create_directories(fixture.manifests / "..2026_11_25_01");
  std::ofstream(fixture.manifests / "..2026_11_25_01" / "site.yaml") << siteYaml("cm", "/srv/v1");
  fs::create_directory_symlink("..2026_11_25_01", fixture.manifests / "..data");
  fs::create_symlink("..data/site.yaml", fixture.manifests / "site.yaml");

  auto source = fixture.source();
  REQUIRE(source->start());
  CHECK(fixture.rootOf("cm") == "/srv/v1");
  auto cm = fixture.store->get({"Site", "default", "cm"});
  REQUIRE(cm);
  CHECK((**cm)["metadata"]["annotations"][kManifestFileAnnotation] == "site.yaml");

  // The atomic update: a new timestamped directory, a temporary symlink renamed over ..data.
  fs::create_directories(fixture.manifests / "..2026_11_25_02");
  std::ofstream(fixture.manifests / "..2026_11_25_02" / "site.yaml") << siteYaml("cm", "/srv/v2");
  fs::create_directory_symlink("..2026_11_25_02", fixture.manifests / "..data_tmp");
  fs::rename(fixture.manifests / "..data_tmp", fixture.manifests / "..data");
  fs::remove_all(fixture.manifests / "..2026_11_25_01");

  CHECK(waitUntil([&] { return fixture.rootOf("cm") == "/srv/v2"; }));
  source->stop();
}

TEST_CASE("ManifestSource sees files written in a new subdirectory and editor renames",
          "[controller][source]") {
  SourceFixture fixture;
  auto source = fixture.source();
  REQUIRE(source->start());
  fixture.write("new/dir/site.yaml", siteYaml("deep", "/srv/deep"));
  CHECK(waitUntil([&] { return fixture.rootOf("deep") == "/srv/deep"; }));

  // An editor's save: write a temporary file, rename it over the original.
  fixture.write("new/dir/.site.yaml.swp", siteYaml("deep", "/srv/saved"));
  fs::rename(fixture.manifests / "new/dir/.site.yaml.swp", fixture.manifests / "new/dir/site.yaml");
  CHECK(waitUntil([&] { return fixture.rootOf("deep") == "/srv/saved"; }));
  source->stop();
}

}  // namespace siteplane::source

namespace siteplane::source {

TEST_CASE("ManifestSource rescans at once when asked, without waiting for the watch or the timer",
          "[controller][source][rescan]") {
  SourceFixture fixture;
  fixture.write("a.yaml", siteYaml("one", "/srv/one"));
  // A debounce of an hour: the watch's scan cannot come during the test; only rescan() can.
  auto source = fixture.source(std::chrono::hours(1));
  source->rescan();  // before start: a no-op
  REQUIRE(source->start());
  fixture.write("b.yaml", siteYaml("two", "/srv/two"));
  source->rescan();
  CHECK(waitUntil([&] { return fixture.rootOf("two") == "/srv/two"; }));
  source->stop();
  source->rescan();  // after stop: a no-op
}

}  // namespace siteplane::source

namespace siteplane::source {

TEST_CASE(
    "ManifestSource reports FIFOs, devices and symlink loops as invalid files, never opening them",
    "[controller][source][special]") {
  SourceFixture fixture;
  fixture.write("a.yaml", siteYaml("one", "/srv/one"));
  REQUIRE(::mkfifo((fixture.manifests / "fifo.yaml").c_str(), 0600) == 0);
  fs::create_symlink("/dev/null", fixture.manifests / "device.yaml");
  fs::create_symlink("loop.yaml", fixture.manifests / "loop.yaml");
  fs::create_symlink("sub-loop", fixture.manifests / "sub-loop");
  fs::create_symlink(fixture.dir.path() / "gone.yaml", fixture.manifests / "dangling.yaml");
  fixture.write("notes.txt", "not a manifest");  // not a manifest name: silently skipped
  auto source = fixture.source();
  SyncReport report = source->syncNow();  // returns: a FIFO is never opened
  CHECK(report.invalidFiles == 5);
  CHECK(fixture.rootOf("one") == "/srv/one");

  std::map<std::string, std::string> messages;
  for (const auto& event : fixture.store->list({"Event", std::nullopt, {}}).items) {
    CHECK((*event)["reason"] == "InvalidManifest");
    CHECK((*event)["type"] == "Warning");
    messages[(*event)["involvedObject"]["name"].get<std::string>()] =
        (*event)["message"].get<std::string>();
  }
  REQUIRE(messages.size() == 5);
  CHECK(messages["fifo.yaml"] ==
        (fixture.manifests / "fifo.yaml").string() + ": not a regular file (a FIFO): not read");
  CHECK(messages["device.yaml"] == (fixture.manifests / "device.yaml").string() +
                                       ": not a regular file (a character device): not read");
  CHECK(messages["loop.yaml"] == (fixture.manifests / "loop.yaml").string() +
                                     ": symlink loop (too many levels of symbolic links)");
  CHECK(messages["sub-loop"] == (fixture.manifests / "sub-loop").string() +
                                    ": symlink loop (too many levels of symbolic links)");
  CHECK_THAT(messages["dangling.yaml"], Catch::Contains("dangling symlink"));

  // Fixed: the Event goes, the file is read.
  fs::remove(fixture.manifests / "fifo.yaml");
  fixture.write("fifo.yaml", siteYaml("two", "/srv/two"));
  source->syncNow();
  CHECK(fixture.rootOf("two") == "/srv/two");
  CHECK(fixture.store->list({"Event", std::nullopt, {}}).items.size() == 4);
}

TEST_CASE("loadManifestFile refuses a FIFO without waiting for a writer",
          "[controller][source][special]") {
  siteplane::testing::TempDir dir;
  REQUIRE(::mkfifo((dir.path() / "pipe.yaml").c_str(), 0600) == 0);
  auto loaded = manifest::loadManifestFile(dir.path() / "pipe.yaml");
  REQUIRE_FALSE(loaded.ok());
  CHECK_THAT(loaded.errors.front().toString(), Catch::Contains("not a regular file (a FIFO)"));
}

}  // namespace siteplane::source

#include "controller/manifest/manifest_loader.h"

#include <catch2/catch.hpp>

#include "tests/support/test_support.h"

namespace siteplane::manifest {
namespace {

std::string site(const std::string& name, const std::string& extra = "") {
  return "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: " + name +
         "\nspec:\n  root: www/" + name + "\n" + extra;
}

std::vector<std::string> rendered(const std::vector<api::Diagnostic>& errors) {
  std::vector<std::string> out;
  for (const auto& error : errors) out.push_back(error.toString());
  return out;
}

}  // namespace

TEST_CASE("loadManifests reads *.yaml and *.yml recursively in sorted order",
          "[controller][manifest]") {
  testing::TempDir dir;
  dir.write("b.yaml", site("b"));
  dir.write("a.yml", site("a") + "---\n" + site("a2"));
  dir.write("sub/c.yaml", site("c"));
  dir.write("notes.txt", "not: a manifest\n");
  dir.write(".hidden/d.yaml", "garbage: [");
  dir.write(".e.yaml", "garbage: [");
  auto result = loadManifests({dir.path()});
  INFO(rendered(result.errors).size());
  REQUIRE(result.ok());
  std::vector<std::string> names;
  for (const auto& object : result.objects()) names.push_back(api::metadataOf(object.object).name);
  CHECK(names == std::vector<std::string>{"a", "a2", "b", "c"});
  auto objects = result.objects();
  CHECK(objects[1].documentIndex == 1);
  CHECK(objects[1].position.line == 8);
  CHECK(objects[1].file == (dir.path() / "a.yml").string());
  // Relative roots resolve against the directory of the file that declares them.
  CHECK(std::get<api::Site>(objects[3].object).spec.root == (dir.path() / "sub/www/c").string());
}

TEST_CASE("a file with any error contributes no objects", "[controller][manifest]") {
  testing::TempDir dir;
  dir.write("good.yaml", site("good"));
  auto bad = dir.write("bad.yaml", site("fine") + "---\n" + site("broken", "  colour: red\n"));
  auto result = loadManifests({dir.path()});
  REQUIRE_FALSE(result.ok());
  CHECK(
      rendered(result.errors) ==
      std::vector<std::string>{bad.string() + ":14:3: Site \"broken\" spec.colour: unknown field"});
  REQUIRE(result.files.size() == 2);
  CHECK(result.files[0].objects.empty());
  CHECK(result.files[1].objects.size() == 1);
}

TEST_CASE("loadManifests reports an object declared twice and a reused siteId",
          "[controller][manifest]") {
  testing::TempDir dir;
  auto first = dir.write("a.yaml", site("web", "  siteId: 7\n"));
  auto second = dir.write("b.yaml", site("web") + "---\n" + site("other", "  siteId: 7\n"));
  auto result = loadManifests({dir.path()});
  CHECK(rendered(result.errors) ==
        std::vector<std::string>{
            second.string() +
                ":4:9: Site \"web\" metadata.name: Site default/web is already declared at " +
                first.string() + ":4:9",
            second.string() +
                ":14:11: Site \"other\" spec.siteId: 7 is already used by Site "
                "default/web at " +
                first.string() + ":7:11",
        });
  REQUIRE(result.files.size() == 2);
  CHECK(result.files[0].objects.size() == 1);
  CHECK(result.files[1].objects.empty());
}

TEST_CASE("loadManifests reports missing paths and unreadable files", "[controller][manifest]") {
  testing::TempDir dir;
  auto result = loadManifests({dir.path() / "nope"});
  CHECK(rendered(result.errors) ==
        std::vector<std::string>{(dir.path() / "nope").string() + ": no such file or directory"});

  YamlLimits small;
  small.maxBytes = 16;
  auto big = dir.write("big.yaml", site("big"));
  auto tooBig = loadManifestFile(big, small);
  CHECK(rendered(tooBig.errors) ==
        std::vector<std::string>{big.string() + ": file too large: " +
                                 std::to_string(site("big").size()) + " bytes, the limit is 16"});
}

TEST_CASE("every example manifest decodes without error", "[controller][manifest][examples]") {
  auto examples = std::filesystem::path(SITEPLANE_SOURCE_DIR) / "manifests";
  REQUIRE(std::filesystem::is_directory(examples));  // tracked in the repository
  std::vector<api::Diagnostic> listErrors;
  auto files = findManifestFiles({examples}, listErrors);
  CHECK(listErrors.empty());
  auto result = loadManifests({examples});
  INFO([&] {
    std::string all;
    for (const auto& line : rendered(result.errors)) all += line + "\n";
    return all;
  }());
  CHECK(result.ok());
  for (const auto& file : result.files) {
    INFO(file.file);
    CHECK_FALSE(file.objects.empty());
  }
}

}  // namespace siteplane::manifest

namespace siteplane::manifest {

TEST_CASE("loadManifestText decodes JSON bodies with positions, as YAML 1.2 is a superset of JSON",
          "[controller][manifest]") {
  auto ok = loadManifestText(
      R"({"apiVersion": "siteplane.io/v1alpha1", "kind": "Issuer",
          "metadata": {"name": "selfsigned"}, "spec": {"selfSigned": {}}})",
      "request body");
  REQUIRE(ok.ok());
  REQUIRE(ok.objects.size() == 1);
  CHECK(api::keyOf(ok.objects[0].object).toString() == "Issuer/default/selfsigned");

  auto duplicate = loadManifestText(
      "{\"apiVersion\": \"siteplane.io/v1alpha1\", \"kind\": \"Issuer\",\n"
      " \"kind\": \"Site\", \"metadata\": {\"name\": \"x\"}, \"spec\": {}}",
      "request body");
  REQUIRE(duplicate.errors.size() == 1);
  CHECK(duplicate.errors[0].toString() ==
        "request body:2:2: duplicate key \"kind\" (first defined at line 1)");
}

}  // namespace siteplane::manifest

// tests/manifests/invalid/: one mistake per file, each starting with the exact error lines the
// decoder must print ("# expect: {file}:line:column: Kind "name" path: message"). The CRD check
// uses the same files and their "# schema: reject" markers.

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>

#include "controller/manifest/manifest_loader.h"
#include "tests/support/test_support.h"

namespace siteplane::manifest {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> expectedErrors(const fs::path& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  std::string line;
  const std::string marker = "# expect: ";
  while (std::getline(in, line) && line.rfind("#", 0) == 0) {
    if (line.rfind(marker, 0) != 0) continue;
    std::string expected = line.substr(marker.size());
    auto placeholder = expected.find("{file}");
    if (placeholder != std::string::npos) expected.replace(placeholder, 6, file.string());
    out.push_back(expected);
  }
  return out;
}

}  // namespace

TEST_CASE("every invalid manifest is rejected with exactly its expected errors",
          "[controller][manifest][invalid]") {
  fs::path directory = std::filesystem::path(SITEPLANE_SOURCE_DIR) / "tests/manifests/invalid";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 30);

  for (const auto& file : files) {
    INFO(file.filename().string());
    auto expected = expectedErrors(file);
    REQUIRE_FALSE(expected.empty());
    auto result = loadManifestFile(file);
    std::vector<std::string> actual;
    for (const auto& error : result.errors) actual.push_back(error.toString());
    CHECK(actual == expected);
    CHECK(result.objects.empty());
  }
}

}  // namespace siteplane::manifest

// Decoding never crashes or hangs on hostile input: every case below must end in an error (or a
// clean decode), quickly, with no exception escaping.

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "controller/manifest/manifest_loader.h"
#include "controller/manifest/yaml_document.h"

namespace siteplane::manifest {
namespace {

const std::string kValidBinding =
    "apiVersion: siteplane.io/v1alpha1\n"
    "kind: Binding\n"
    "metadata:\n"
    "  name: contoso-https\n"
    "  labels: {app: contoso}\n"
    "spec:\n"
    "  siteRef: {name: contoso}\n"
    "  protocol: https\n"
    "  bindingInformation: \"[::1]:443:www.contoso.com\"\n"
    "  certificateRef:\n"
    "    name: contoso-tls\n";

std::string firstError(const FileLoadResult& result) {
  return result.errors.empty() ? "" : result.errors.front().toString();
}

}  // namespace

TEST_CASE("every truncation of a valid manifest decodes or fails cleanly",
          "[controller][manifest]") {
  REQUIRE(loadManifestText(kValidBinding, "b.yaml").ok());
  for (size_t length = 0; length < kValidBinding.size(); ++length) {
    auto result = loadManifestText(kValidBinding.substr(0, length), "b.yaml");
    INFO(length);
    CHECK((result.ok() || !result.errors.empty()));
    for (const auto& error : result.errors) CHECK(error.toString().rfind("b.yaml", 0) == 0);
  }
}

TEST_CASE("random bytes and mutated manifests never crash the decoder", "[controller][manifest]") {
  std::mt19937 random(20261125);  // fixed seed: a failure is reproducible
  for (int round = 0; round < 300; ++round) {
    std::string bytes(random() % 512, '\0');
    for (auto& c : bytes) c = static_cast<char>(random() % 256);
    auto result = loadManifestText(bytes, "random.yaml");
    CHECK((result.ok() || !result.errors.empty()));
  }
  // Mutations of a real manifest reach deeper into the parser and the decoder than pure noise.
  const std::string alphabet = ":-[]{}&*!|>'\"#%@`,? \n\t0aZ~";
  for (int round = 0; round < 1000; ++round) {
    std::string text = kValidBinding;
    for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits) {
      size_t at = random() % text.size();
      text[at] = alphabet[random() % alphabet.size()];
    }
    auto result = loadManifestText(text, "mutated.yaml");
    CHECK((result.ok() || !result.errors.empty()));
  }
}

TEST_CASE("deeply nested input is rejected", "[controller][manifest]") {
  auto flow = loadManifestText(std::string(100000, '['), "deep.yaml");
  REQUIRE_FALSE(flow.ok());
  CHECK(firstError(flow).rfind("deep.yaml:1:", 0) == 0);

  std::string blocks;
  for (int i = 0; i < 50000; ++i) blocks += "- ";
  auto sequences = loadManifestText(blocks + "x\n", "deep.yaml");
  REQUIRE_FALSE(sequences.ok());

  std::string nested;
  for (int i = 0; i < 100; ++i) nested += std::string(static_cast<size_t>(i) * 2, ' ') + "k:\n";
  auto indented = loadManifestText(nested, "deep.yaml");
  REQUIRE_FALSE(indented.ok());
  CHECK(firstError(indented) == "deep.yaml:65:129: nesting deeper than 64 levels");
}

// yaml-cpp 0.7 (Debian bookworm) reports the same empty document forever for a plain scalar that
// starts with ',' in block context; LoadAll collected them until memory ran out (found by
// fuzz/manifest_decoder). A one-byte manifest or API body must be an error, not gigabytes.
TEST_CASE("input on which yaml-cpp stops making progress is an error", "[controller][manifest]") {
  auto comma = loadManifestText(",", "comma.yaml");
  REQUIRE_FALSE(comma.ok());
  CHECK(firstError(comma) == "comma.yaml:1:1: invalid YAML: the parser stopped making progress");

  auto later = loadManifestText("# a comment\n, apiVersion: siteplane.io/v1alpha1\n  kind: Site\n",
                                "later.yaml");
  REQUIRE_FALSE(later.ok());
  CHECK(firstError(later) == "later.yaml:2:1: invalid YAML: the parser stopped making progress");
}

TEST_CASE("input over the size limit is rejected before parsing", "[controller][manifest]") {
  std::string huge(size_t{9} << 20, '#');
  auto result = loadManifestText(huge, "huge.yaml");
  REQUIRE_FALSE(result.ok());
  CHECK(firstError(result) == "huge.yaml: input too large: 9437184 bytes, the limit is 8388608");
}

TEST_CASE("alias bombs and alias cycles are cut off", "[controller][manifest]") {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string previous = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", " : "") + previous;
    bomb += "]\n";
  }
  auto laughs = loadManifestText(bomb, "bomb.yaml");
  REQUIRE_FALSE(laughs.ok());
  CHECK(firstError(laughs).find(
            "document too large: more than 100000 nodes after expanding aliases") !=
        std::string::npos);

  auto cycle = loadManifestText("a: &x [1, *x]\n", "cycle.yaml");
  REQUIRE_FALSE(cycle.ok());
  CHECK(firstError(cycle).find("nesting deeper than 64 levels") != std::string::npos);

  // Many documents, each under the per-document cap, still hit the per-input cap.
  std::string many;
  std::string half = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 4; ++i) {
    std::string previous = "*a" + std::to_string(i - 1);
    half += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) half += (k ? ", " : "") + previous;
    half += "]\n";
  }
  for (int i = 0; i < 300; ++i) many += "---\n" + half;
  auto total = loadManifestText(many, "many.yaml");
  REQUIRE_FALSE(total.ok());
  CHECK(firstError(total).find("more than 2000000 nodes") != std::string::npos);
}

}  // namespace siteplane::manifest

// Fuzz target: manifest text to validated objects (controller/manifest's YAML reader, then
// controller/api's decoder), as `siteplane validate`, `serve` and the manifest source read a file.
//
// Beyond "no crash", the properties the two modules document:
//   - a file with any error contributes no objects, and every error has a message;
//   - an object the decoder accepts passes validate() unchanged (decode checks every rule);
//   - encodeObject round-trips: decodeObject(encodeObject(x)).object == x;
//   - emitYaml round-trips: parseYaml(emitYaml(v)) == v for every document that parsed.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "controller/api/object_codec.h"
#include "controller/manifest/manifest_loader.h"
#include "controller/manifest/yaml_document.h"
#include "fuzz/fuzz_check.h"

namespace {

namespace api = siteplane::api;
namespace manifest = siteplane::manifest;

// The manifest directory relative paths resolve against; nothing is read from it.
constexpr const char* kBaseDirectory = "/srv/manifests";
constexpr const char* kLabel = "fuzz.yaml";

std::string errorsOf(const std::vector<api::FieldError>& errors) {
  std::string out;
  for (const auto& error : errors) out += error.path.toString() + ": " + error.message + "\n";
  return out;
}

void checkYamlRoundTrip(std::string_view text) {
  manifest::YamlParseResult parsed = manifest::parseYaml(text, kLabel);
  FUZZ_CHECK(parsed.ok() || parsed.documents.empty(), "documents returned with errors");
  for (const auto& document : parsed.documents) {
    std::string emitted = manifest::emitYaml(document.value);
    manifest::YamlParseResult again = manifest::parseYaml(emitted, "emitted.yaml");
    std::string why = again.ok() ? std::string() : again.errors.front().toString();
    FUZZ_CHECK(again.ok(), "emitYaml output does not parse: " + why + "\n" + emitted);
    FUZZ_CHECK(again.documents.size() == 1, "emitYaml output is not one document:\n" + emitted);
    // dump(): NaN compares unequal to itself but prints the same.
    FUZZ_CHECK(again.documents.front().value.dump() == document.value.dump(),
               "emitYaml round trip changed " + document.value.dump() + " into " +
                   again.documents.front().value.dump());
  }
}

void checkObject(const api::Object& object) {
  auto errors = api::validate(object);
  FUZZ_CHECK(errors.empty(), "decoded object fails validate():\n" + errorsOf(errors));
  nlohmann::json encoded = api::encodeObject(object);
  api::DecodeResult again = api::decodeObject(encoded);
  FUZZ_CHECK(again.ok(), "encodeObject output does not decode: " + encoded.dump() + "\n" +
                             errorsOf(again.errors));
  FUZZ_CHECK(*again.object == object, "encode/decode round trip changed " + encoded.dump() +
                                          " into " + api::encodeObject(*again.object).dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  manifest::FileLoadResult loaded = manifest::loadManifestText(text, kLabel, kBaseDirectory);
  FUZZ_CHECK(loaded.ok() || loaded.objects.empty(), "a file with errors contributed objects");
  for (const auto& error : loaded.errors) {
    FUZZ_CHECK(!error.message.empty(), "an error without a message");
    FUZZ_CHECK(!error.toString().empty(), "an error that renders empty");
  }
  for (const auto& object : loaded.objects) checkObject(object.object);
  checkYamlRoundTrip(text);
  return 0;
}

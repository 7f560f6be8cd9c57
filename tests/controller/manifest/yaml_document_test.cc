#include "controller/manifest/yaml_document.h"

#include <catch2/catch.hpp>

namespace siteplane::manifest {
namespace {

std::vector<std::string> errorsOf(const std::string& text, const YamlLimits& limits = {}) {
  std::vector<std::string> out;
  for (const auto& error : parseYaml(text, "in.yaml", limits).errors)
    out.push_back(error.toString());
  return out;
}

}  // namespace

TEST_CASE("parseYaml reads multi-document files and skips empty documents",
          "[controller][manifest]") {
  auto result = parseYaml("---\n# nothing here\n---\na: 1\n---\n---\nb: [x, 'y']\n...\n", "f.yaml");
  REQUIRE(result.ok());
  REQUIRE(result.documents.size() == 2);
  CHECK(result.documents[0].value == nlohmann::json{{"a", 1}});
  CHECK(result.documents[0].index == 0);
  CHECK(result.documents[0].start == api::Position{4, 1});
  CHECK(result.documents[1].value == nlohmann::json{{"b", {"x", "y"}}});
  CHECK(result.documents[1].index == 1);
}

TEST_CASE("parseYaml resolves scalars with the YAML 1.2 core schema", "[controller][manifest]") {
  auto result = parseYaml(
      "int: 443\nneg: -7\nhex: 0x1F\noct: 0o17\nfloat: 1.5\nexp: 1e3\nbool: true\nBool: False\n"
      "null1: null\nnull2: ~\nnull3:\nstr: hello\nquoted: \"443\"\nsingle: 'true'\nyes: yes\n"
      "tagged: !!str 80\nversion: 1.2\nblock: |\n  line\n",
      "f.yaml");
  REQUIRE(result.ok());
  const auto& v = result.documents[0].value;
  CHECK(v["int"] == 443);
  CHECK(v["neg"] == -7);
  CHECK(v["hex"] == 31);
  CHECK(v["oct"] == 15);
  CHECK(v["float"] == 1.5);
  CHECK(v["exp"] == 1000.0);
  CHECK(v["bool"] == true);
  CHECK(v["Bool"] == false);
  CHECK(v["null1"].is_null());
  CHECK(v["null2"].is_null());
  CHECK(v["null3"].is_null());
  CHECK(v["str"] == "hello");
  CHECK(v["quoted"] == "443");
  CHECK(v["single"] == "true");
  CHECK(v["yes"] == "yes");  // YAML 1.1's yes/no booleans are strings in 1.2
  CHECK(v["tagged"] == "80");
  CHECK(v["version"].is_number_float());
  CHECK(v["block"] == "line\n");
}

TEST_CASE("parseYaml records the line and column of every key and value",
          "[controller][manifest]") {
  auto result = parseYaml(
      "apiVersion: v\nkind: Binding\nspec:\n  port: 70000\n  refs:\n    - name: a\n    - name: b\n"
      "  empty:\n  \"a/b~c\": 1\n",
      "f.yaml");
  REQUIRE(result.ok());
  const auto& positions = result.documents[0].positions;
  CHECK(positions.at("").value == api::Position{1, 1});
  CHECK(positions.at("/kind").key == api::Position{2, 1});
  CHECK(positions.at("/kind").value == api::Position{2, 7});
  CHECK(positions.at("/spec").value == api::Position{4, 3});
  CHECK(positions.at("/spec/port").value == api::Position{4, 9});
  CHECK(positions.at("/spec/refs/1").value == api::Position{7, 7});
  CHECK(positions.at("/spec/refs/1/name").value == api::Position{7, 13});
  // An empty value points at its key, not at whatever token follows it.
  CHECK(positions.at("/spec/empty").value == api::Position{8, 3});
  CHECK(positions.at("/spec/a~1b~0c").key == api::Position{9, 3});
}

TEST_CASE("parseYaml rejects duplicate keys, non-string keys and unknown tags with positions",
          "[controller][manifest]") {
  CHECK(errorsOf("a: 1\nb:\n  c: 1\n  c: 2\n") ==
        std::vector<std::string>{"in.yaml:4:3: duplicate key \"c\" (first defined at line 3)"});
  CHECK(errorsOf("? [a, b]\n: 1\n") ==
        std::vector<std::string>{"in.yaml:1:3: mapping keys must be strings, got a sequence"});
  CHECK(errorsOf("a: !custom x\n") ==
        std::vector<std::string>{"in.yaml:1:4: unsupported tag \"!custom\""});
  CHECK(errorsOf("a: !!int abc\n") ==
        std::vector<std::string>{"in.yaml:1:4: \"abc\" is not a valid !!int"});
  CHECK(errorsOf("a: 99999999999999999999\n") ==
        std::vector<std::string>{
            "in.yaml:1:4: integer 99999999999999999999 does not fit in 64 bits"});
  CHECK(errorsOf("a: [1, 2\n") ==
        std::vector<std::string>{"in.yaml:2:1: invalid YAML: end of sequence flow not found"});
  CHECK(errorsOf("a: 1\nb: \xff\n") ==
        std::vector<std::string>{"in.yaml:2:4: invalid UTF-8 (byte 0xFF)"});
  // Bytes 0xF5-0xFF never start a sequence, even when continuation bytes follow (found by
  // fuzz/manifest_decoder: such a string reached nlohmann::json, whose dump() then threw).
  CHECK(errorsOf("a: \xff\xbb\xba\n") ==
        std::vector<std::string>{"in.yaml:1:4: invalid UTF-8 (byte 0xFF)"});
  CHECK(errorsOf("a: \xf5\x80\x80\x80\n") ==
        std::vector<std::string>{"in.yaml:1:4: invalid UTF-8 (byte 0xF5)"});
  CHECK(errorsOf("a: \x01\n") ==
        std::vector<std::string>{"in.yaml:1:4: control character 0x01 is not allowed"});
}

TEST_CASE("parseYaml accepts a file as a whole or not at all", "[controller][manifest]") {
  auto result = parseYaml("a: 1\n---\nb: 1\nb: 2\n", "f.yaml");
  CHECK_FALSE(result.ok());
  CHECK(result.documents.empty());
}

TEST_CASE("parseYaml expands ordinary aliases", "[controller][manifest]") {
  auto result = parseYaml("base: &b {x: 1}\nuse: *b\n", "f.yaml");
  REQUIRE(result.ok());
  CHECK(result.documents[0].value["use"] == nlohmann::json{{"x", 1}});
}

TEST_CASE("emitYaml writes YAML that parses back to the same JSON", "[controller][manifest]") {
  nlohmann::json value = {
      {"apiVersion", "siteplane.io/v1alpha1"},
      {"strings",
       {"true", "null", "", "443", "1.2", "0x1F", " padded ", "a: b", "- x", "#c", "multi\nline",
        "quote\"s", "ünïcödé", "~", "yes"}},
      {"numbers", {0, -1, 443, 1.5, 1e100, 9223372036854775807LL}},
      {"bools", {true, false}},
      {"null", nullptr},
      {"empty", nlohmann::json::object()},
      {"emptyList", nlohmann::json::array()},
      {"nested", {{"list", {{{"name", "a"}}, {{"name", "b"}}}}}},
      {"a/b~c", "key with pointer characters"},
  };
  std::string text = emitYaml(value);
  INFO(text);
  auto parsed = parseYaml(text, "emitted.yaml");
  REQUIRE(parsed.ok());
  REQUIRE(parsed.documents.size() == 1);
  CHECK(parsed.documents[0].value == value);

  auto documents = parseYaml(emitYamlDocuments({value, {{"b", 2}}}), "emitted.yaml");
  REQUIRE(documents.ok());
  REQUIRE(documents.documents.size() == 2);
  CHECK(documents.documents[1].value == nlohmann::json{{"b", 2}});
}

TEST_CASE("emitYaml keeps line breaks and control characters a plain scalar would lose",
          "[controller][manifest]") {
  // Found by the manifest_decoder fuzzer: "/contoso.p11\r" came back as "/contoso.p11".
  const nlohmann::json value = {
      {"strings",
       {"crlf\r\n", "cr\r", "\rlead", "mid\rdle", "bell\x07", "esc\x1b[0m", "tab\tinside"}},
      {"key\r", "a key with a carriage return"},
  };
  const std::string text = emitYaml(value);
  INFO(text);
  auto parsed = parseYaml(text, "emitted.yaml");
  REQUIRE(parsed.ok());
  REQUIRE(parsed.documents.size() == 1);
  CHECK(parsed.documents[0].value == value);
}

}  // namespace siteplane::manifest

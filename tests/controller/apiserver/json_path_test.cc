#include "controller/apiserver/json_path.h"

#include <catch2/catch.hpp>

#include "controller/apiserver/field_selector.h"
#include "controller/apiserver/table_converter.h"

using nlohmann::json;
using siteplane::apiserver::FieldSelector;
using siteplane::apiserver::humanDuration;
using siteplane::apiserver::JsonPath;

namespace {

const json kObject = {
    {"metadata", {{"name", "web"}, {"annotations", {{"a.b/c", "dotted"}}}}},
    {"spec", {{"port", 8443}, {"dnsNames", {"a.example", "b.example"}}}},
    {"status",
     {{"conditions",
       {{{"type", "Accepted"}, {"status", "True"}, {"reason", "Valid"}},
        {{"type", "Programmed"}, {"status", "False"}, {"reason", "PortInUse"}}}}}}};

std::vector<json> eval(const std::string& path) {
  auto parsed = JsonPath::parse(path);
  REQUIRE(parsed.isOk());
  return parsed->evaluate(kObject);
}

}  // namespace

TEST_CASE("JsonPath selects fields, indexes and wildcards", "[apiserver][jsonpath]") {
  CHECK(eval(".spec.port") == std::vector<json>{8443});
  CHECK(eval("{.spec.dnsNames[1]}") == std::vector<json>{"b.example"});
  CHECK(eval(".spec.dnsNames[-1]") == std::vector<json>{"b.example"});
  CHECK(eval(".spec.dnsNames[*]") == std::vector<json>{"a.example", "b.example"});
  CHECK(eval(".metadata.annotations['a.b/c']") == std::vector<json>{"dotted"});
  CHECK(eval(".spec.missing").empty());
  CHECK(eval(".spec.port.deeper").empty());
}

TEST_CASE("JsonPath filters conditions by type like CRD printer columns do",
          "[apiserver][jsonpath]") {
  CHECK(eval(".status.conditions[?(@.type==\"Programmed\")].status") == std::vector<json>{"False"});
  CHECK(eval(".status.conditions[?(@.type=='Accepted')].reason") == std::vector<json>{"Valid"});
  CHECK(eval(".status.conditions[?(@.type!=\"Accepted\")].type") ==
        std::vector<json>{"Programmed"});
  CHECK(eval(".status.conditions[?(@.type==\"Ready\")].status").empty());
}

TEST_CASE("JsonPath rejects what it cannot read, naming the offset", "[apiserver][jsonpath]") {
  auto bad = JsonPath::parse(".spec[");
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.message(), Catch::Contains("offset"));
  CHECK_FALSE(JsonPath::parse("..spec").isOk());
  CHECK_FALSE(JsonPath::parse(".a[1:2]").isOk());
  CHECK_FALSE(JsonPath::parse("").isOk());
}

TEST_CASE("humanDuration renders ages the way kubectl shows them", "[apiserver][table]") {
  using std::chrono::seconds;
  CHECK(humanDuration(seconds(-5)) == "<invalid>");
  CHECK(humanDuration(seconds(0)) == "0s");
  CHECK(humanDuration(seconds(119)) == "119s");
  CHECK(humanDuration(seconds(125)) == "2m5s");
  CHECK(humanDuration(seconds(600)) == "10m");
  CHECK(humanDuration(seconds(3 * 3600 + 120)) == "3h2m");
  CHECK(humanDuration(seconds(30 * 3600)) == "30h");
  CHECK(humanDuration(seconds(3 * 86400 + 3600)) == "3d1h");
  CHECK(humanDuration(seconds(40 * 86400)) == "40d");
  CHECK(humanDuration(seconds(3LL * 365 * 86400 + 86400)) == "3y1d");
}

TEST_CASE("FieldSelector matches dotted paths with =, == and !=", "[apiserver][selector]") {
  json event = {{"metadata", {{"name", "e1"}}},
                {"involvedObject", {{"kind", "Binding"}, {"name", "web"}}},
                {"count", 3}};
  auto both = FieldSelector::parse("involvedObject.kind=Binding,involvedObject.name==web");
  REQUIRE(both.isOk());
  CHECK(both->matches(event));
  auto other = FieldSelector::parse("metadata.name!=e1");
  REQUIRE(other.isOk());
  CHECK_FALSE(other->matches(event));
  auto count = FieldSelector::parse("count=3");
  REQUIRE(count.isOk());
  CHECK(count->matches(event));
  auto absent = FieldSelector::parse("spec.missing=");
  REQUIRE(absent.isOk());
  CHECK(absent->matches(event));
  auto bad = FieldSelector::parse("metadata.name");
  REQUIRE_FALSE(bad.isOk());
  CHECK_THAT(bad.message(), Catch::Contains("metadata.name"));
}

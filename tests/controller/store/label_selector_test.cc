#include "controller/store/label_selector.h"

#include <catch2/catch.hpp>

namespace siteplane::store {
namespace {

using nlohmann::json;

TEST_CASE("LabelSelector matches equality, set and existence requirements", "[controller][store]") {
  const json web = {{"tier", "web"}, {"env", "prod"}, {"app.kubernetes.io/name", "shop"}};
  const json api = {{"tier", "api"}, {"env", "staging"}, {"canary", ""}};
  const json none = nullptr;
  struct Case {
    std::string selector;
    bool web, api, none;
  };
  std::vector<Case> cases = {
      {"", true, true, true},
      {"tier=web", true, false, false},
      {"tier==web", true, false, false},
      {"tier!=web", false, true, true},  // != also holds when the label is absent
      {"tier=web,env=prod", true, false, false},
      {"tier=web,env=staging", false, false, false},
      {"canary", false, true, false},
      {"!canary", true, false, true},
      {"canary=", false, true, false},  // the empty value
      {"env in (prod,staging)", true, true, false},
      {"env in (dev)", false, false, false},
      {"env notin (prod)", false, true, true},  // notin also holds when absent
      {"app.kubernetes.io/name=shop", true, false, false},
      {"  tier = web ,  env in ( prod , qa )  ", true, false, false},
      {"tier,!canary,env notin (qa)", true, false, false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.selector);
    auto selector = LabelSelector::parse(c.selector);
    REQUIRE(selector.isOk());
    CHECK(selector->matches(web) == c.web);
    CHECK(selector->matches(api) == c.api);
    CHECK(selector->matches(none) == c.none);
  }
}

TEST_CASE("LabelSelector parses requirements into operators and values", "[controller][store]") {
  auto selector = LabelSelector::parse("a=b,c!=d,e,!f,g in (x,y),h notin (z)");
  REQUIRE(selector.isOk());
  using Op = LabelSelector::Operator;
  const auto& r = selector->requirements();
  REQUIRE(r.size() == 6);
  CHECK(
      (r[0].key == "a" && r[0].op == Op::kEquals && r[0].values == std::vector<std::string>{"b"}));
  CHECK((r[1].key == "c" && r[1].op == Op::kNotEquals &&
         r[1].values == std::vector<std::string>{"d"}));
  CHECK((r[2].key == "e" && r[2].op == Op::kExists && r[2].values.empty()));
  CHECK((r[3].key == "f" && r[3].op == Op::kDoesNotExist));
  CHECK(
      (r[4].key == "g" && r[4].op == Op::kIn && r[4].values == std::vector<std::string>{"x", "y"}));
  CHECK((r[5].key == "h" && r[5].op == Op::kNotIn && r[5].values == std::vector<std::string>{"z"}));
  CHECK(selector->matchesObject(
      json{{"metadata", {{"labels", {{"a", "b"}, {"e", "1"}, {"g", "y"}}}}}}));
  CHECK_FALSE(selector->matchesObject(json{{"metadata", {{"name", "x"}}}}));
}

TEST_CASE("LabelSelector rejects malformed selectors naming the column", "[controller][store]") {
  struct Case {
    std::string selector;
    std::string message;
  };
  std::vector<Case> cases = {
      {"a=b,,c", "label selector \"a=b,,c\": column 5: expected a label key"},
      {"a=b,", "label selector \"a=b,\": column 5: expected a label key"},
      {"a b", "label selector \"a b\": column 3: expected one of =, ==, !=, in, notin after \"a\""},
      {"a in b", "label selector \"a in b\": column 6: expected '(' to open the value set"},
      {"a in (b", "label selector \"a in (b\": column 8: expected ')' to close the value set"},
      {"a in ()",
       "label selector \"a in ()\": column 7: the value set of in/notin must not be empty"},
      {"a in (b c)",
       "label selector \"a in (b c)\": column 9: expected ',' or ')' in the value set"},
      {"a=b c", "label selector \"a=b c\": column 5: expected ',' or the end of the selector"},
      {"-a=b", "label selector \"-a=b\": column 1: \"-a\" is not a valid label key"},
      {"a=b!", "label selector \"a=b!\": column 4: expected ',' or the end of the selector"},
      {"a=-b", "label selector \"a=-b\": column 3: \"-b\" is not a valid label value"},
      {"!", "label selector \"!\": column 2: expected a label key"},
      {"!a=b", "label selector \"!a=b\": column 3: expected ',' or the end of the selector"},
      {"Bad.Prefix/a=b",
       "label selector \"Bad.Prefix/a=b\": column 1: \"Bad.Prefix/a\" is not a valid label key"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.selector);
    auto selector = LabelSelector::parse(c.selector);
    REQUIRE_FALSE(selector.isOk());
    CHECK(selector.code() == ErrorCode::kInvalid);
    CHECK(selector.message() == c.message);
  }
}

TEST_CASE("Label keys and values follow the Kubernetes syntax", "[controller][store]") {
  CHECK(isValidLabelKey("tier"));
  CHECK(isValidLabelKey("app.kubernetes.io/name"));
  CHECK(isValidLabelKey("A_b.c-d"));
  CHECK_FALSE(isValidLabelKey(""));
  CHECK_FALSE(isValidLabelKey("/name"));
  CHECK_FALSE(isValidLabelKey("prefix/"));
  CHECK_FALSE(isValidLabelKey(std::string(64, 'a')));
  CHECK(isValidLabelKey(std::string(63, 'a')));
  CHECK(isValidLabelValue(""));
  CHECK(isValidLabelValue("v1.2_beta-3"));
  CHECK_FALSE(isValidLabelValue("has space"));
  CHECK_FALSE(isValidLabelValue("trailing-"));
}

}  // namespace
}  // namespace siteplane::store

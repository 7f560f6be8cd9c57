// /runtime/sslcert and /runtime/explain at the handler level: the routing, the token and the
// error shapes. What they answer is controller/runtime's (tests/controller/runtime).

#include <catch2/catch.hpp>

#include "tests/controller/apiserver/api_test_support.h"

using namespace siteplane::apiserver;
using namespace siteplane::apiserver::testing;
using nlohmann::json;

namespace {

ApiHandlerOptions withRuntime(std::multimap<std::string, std::string>& seenQuery) {
  ApiHandlerOptions options;
  options.token = "t0ken";
  options.runtime.sslcert =
      [](const std::multimap<std::string, std::string>&) -> siteplane::Result<json> {
    return json{{"live", true}, {"generation", 4}};
  };
  options.runtime.explain =
      [&seenQuery](
          const std::multimap<std::string, std::string>& query) -> siteplane::Result<json> {
    seenQuery = query;
    if (query.count("port") == 0) return siteplane::Result<json>::error("port: required");
    return json{{"summary", "served"}};
  };
  return options;
}

const Headers kToken = {{"Authorization", "Bearer t0ken"}};

}  // namespace

TEST_CASE("The runtime views answer with the data plane's JSON, behind the token",
          "[apiserver][runtime]") {
  std::multimap<std::string, std::string> seen;
  Harness h(withRuntime(seen));
  CHECK(h.call("GET", "/runtime/sslcert").response.status == 401);
  CHECK(h.call("GET", "/runtime/explain?port=1").response.status == 401);

  auto sslcert = h.call("GET", "/runtime/sslcert", "", kToken);
  REQUIRE(sslcert.response.status == 200);
  CHECK(sslcert.response.contentType == "application/json");
  CHECK(h.json(sslcert)["generation"] == 4);

  auto explained =
      h.call("GET", "/runtime/explain?address=%3A%3A1&port=8443&sni=a.test", "", kToken);
  REQUIRE(explained.response.status == 200);
  CHECK(h.json(explained)["summary"] == "served");
  CHECK(seen == std::multimap<std::string, std::string>{
                    {"address", "::1"}, {"port", "8443"}, {"sni", "a.test"}});
}

TEST_CASE(
    "A bad explain parameter is a 400 Status naming it, and other verbs and paths are refused",
    "[apiserver][runtime]") {
  std::multimap<std::string, std::string> seen;
  Harness h(withRuntime(seen));
  auto bad = h.call("GET", "/runtime/explain?address=127.0.0.1", "", kToken);
  REQUIRE(bad.response.status == 400);
  CHECK(h.json(bad)["kind"] == "Status");
  CHECK(h.json(bad)["reason"] == "BadRequest");
  CHECK(h.json(bad)["message"] == "port: required");

  CHECK(h.call("POST", "/runtime/sslcert", "{}", kToken).response.status == 405);
  auto unknown = h.call("GET", "/runtime/other", "", kToken);
  CHECK(unknown.response.status == 404);
  CHECK(h.json(unknown)["reason"] == "NotFound");
}

TEST_CASE("Without a data plane the runtime views are not found", "[apiserver][runtime]") {
  Harness h;
  CHECK(h.call("GET", "/runtime/sslcert").response.status == 404);
  CHECK(h.call("GET", "/runtime/explain?port=1").response.status == 404);
}

// A hostile API user against the running `serve`: bodies nested deep enough to exhaust a stack,
// and a JSON patch of a few KB whose copy operations would double the object forty times. Each
// gets its 4xx answer, and the process stays up with its memory where it was.

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "tests/e2e/serve/api_client.h"

namespace siteplane::testing {
namespace {

// Resident memory of a process in KiB, from /proc/<pid>/status (0 when unreadable).
long residentKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

std::string nestedArrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

TEST_CASE(
    "serve refuses deeply nested bodies and copy-bomb patches and stays up with bounded memory",
    "[e2e][serve][api][bounds]") {
  Server server;
  server.write("site.yaml", siteYaml("web", server.root().string()));
  server.start();
  ApiClient api(server);
  REQUIRE(waitUntil([&] { return api.call("GET", kApiPrefix + "sites/web").status == 200; }));
  const long before = residentKiB(server.process().pid());
  REQUIRE(before > 0);

  auto created = api.call("POST", kApiPrefix + "sites", nestedArrays(50000));
  CHECK(created.status == 400);
  CHECK_THAT(created.body, Catch::Contains("nested deeper than 10000 levels"));
  auto merge = api.call("PATCH", kApiPrefix + "sites/other",
                        "{\"spec\":" + nestedArrays(50000) + "}", "application/merge-patch+json");
  CHECK(merge.status == 400);
  auto yaml = api.call("POST", kApiPrefix + "sites", nestedArrays(50000), "application/yaml");
  CHECK(yaml.status == 400);
  REQUIRE(server.process().running());

  // ~2 KB: one small add, then forty copies of spec into itself.
  std::string bomb = R"([{"op":"add","path":"/spec/x","value":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})";
  for (int i = 0; i < 40; ++i)
    bomb += R"(,{"op":"copy","from":"/spec","path":"/spec/y)" + std::to_string(i) + "\"}";
  bomb += "]";
  REQUIRE(bomb.size() < 2500);
  // A manifest's object refuses API writes; the bomb goes at one the API created.
  auto apiSite = api.call(
      "POST", kApiPrefix + "sites",
      R"({"metadata":{"name":"api-site"},"spec":{"root":")" + server.root().string() + "\"}}");
  REQUIRE(apiSite.status == 201);
  auto patched =
      api.call("PATCH", kApiPrefix + "sites/api-site", bomb, "application/json-patch+json");
  CHECK((patched.status == 413 || patched.status == 422));
  CHECK_THAT(patched.body, Catch::Contains("larger than"));

  REQUIRE(server.process().running());
  auto still = api.call("GET", kApiPrefix + "sites/api-site");
  REQUIRE(still.status == 200);
  CHECK(still.body.find("\"y0\"") == std::string::npos);
  // The patch was refused before it could grow the object past the 3 MiB body limit: whatever
  // the allocator keeps, far below the gigabytes forty doublings would take.
  const long after = residentKiB(server.process().pid());
  CHECK(after - before < 256 * 1024);
}

}  // namespace siteplane::testing

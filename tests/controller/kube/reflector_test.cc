// Reflector against a scripted "API server" (scripted_apiserver.py): it lists again when a watch
// is told 410 Gone, delivers only whole lists, and refuses pages that never end.

#include "controller/kube/reflector.h"

#include <catch2/catch.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

using namespace siteplane;
using namespace siteplane::kube;
using namespace std::chrono_literals;
using siteplane::testing::Process;
using siteplane::testing::TempDir;

namespace {

struct Scripted {
  explicit Scripted(const std::string& scenario) {
    auto certificate = siteplane::testing::makeCertificate(dir.path(), "server", {"localhost"});
    server = std::make_unique<Process>(std::vector<std::string>{
        "python3",
        std::string(SITEPLANE_SOURCE_DIR) + "/tests/controller/kube/scripted_apiserver.py",
        scenario, std::to_string(port), certificate.cert.string(), certificate.key.string()});
  }
  KubeConfig config() const {
    KubeConfig out;
    out.server = "https://127.0.0.1:" + std::to_string(port);
    out.insecureSkipTlsVerify = true;  // the point is what it answers, not who it is
    return out;
  }
  TempDir dir;
  int port = siteplane::testing::freePort();
  std::unique_ptr<Process> server;
};

// What a reflector delivered: the item names of every list, and the events.
struct Delivered {
  std::mutex mutex;
  std::vector<std::vector<std::string>> lists;

  ReflectorOptions options() {
    ReflectorOptions options;
    options.path = "/apis/siteplane.io/v1alpha1/sites";
    options.initialBackoff = 50ms;  // until the script listens
    options.maxBackoff = 200ms;
    options.onReplace = [this](std::vector<nlohmann::json> items) {
      std::vector<std::string> names;
      for (const auto& item : items) names.push_back(item["metadata"]["name"]);
      std::lock_guard lock(mutex);
      lists.push_back(std::move(names));
    };
    options.onEvent = [](WatchEventType, const nlohmann::json&) {};
    return options;
  }
  std::vector<std::vector<std::string>> snapshot() {
    std::lock_guard lock(mutex);
    return lists;
  }
};

}  // namespace

TEST_CASE("A reflector whose watch is told 410 Gone lists again and resumes from the new list",
          "[kube][reflector]") {
  Scripted server("relist");
  Delivered delivered;
  auto reflector = Reflector::create(server.config(), delivered.options());
  REQUIRE(reflector);
  (*reflector)->start();
  REQUIRE(siteplane::testing::waitUntil([&] { return delivered.snapshot().size() >= 2; }, 20s));
  auto lists = delivered.snapshot();
  CHECK(lists[0] == std::vector<std::string>{"a"});
  CHECK(lists[1] == std::vector<std::string>{"b"});
  REQUIRE(siteplane::testing::waitUntil([&] { return (*reflector)->health().watching; }, 10s));
  CHECK((*reflector)->health().lists == 2);
  (*reflector)->stop();  // ends the open watch at once
}

TEST_CASE(
    "A list whose continue token expires is listed again from the top, never delivered "
    "in part",
    "[kube][reflector]") {
  Scripted server("expired-continue");
  Delivered delivered;
  auto reflector = Reflector::create(server.config(), delivered.options());
  REQUIRE(reflector);
  (*reflector)->start();
  REQUIRE((*reflector)->waitForSync(20s));
  auto lists = delivered.snapshot();
  REQUIRE(lists.size() == 1);
  CHECK(lists[0] == (std::vector<std::string>{"a", "b"}));
}

TEST_CASE("A server whose pages never end is refused, not followed", "[kube][reflector]") {
  Scripted server("endless-pages");
  Delivered delivered;
  auto reflector = Reflector::create(server.config(), delivered.options());
  REQUIRE(reflector);
  (*reflector)->start();
  REQUIRE(siteplane::testing::waitUntil(
      [&] {
        return (*reflector)->health().lastError.find("the pages do not end") != std::string::npos;
      },
      20s));
  CHECK(delivered.snapshot().empty());
  CHECK_FALSE((*reflector)->health().synced);
}

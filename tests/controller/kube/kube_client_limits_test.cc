// KubeClient against a hostile "API server" (openssl s_server fed by a shell pipe): an answer or a
// watch line without end is refused at its limit instead of filling memory.

#include <catch2/catch.hpp>
#include <string>

#include "controller/kube/kube_client.h"
#include "controller/kube/leader_election.h"
#include "tests/support/test_support.h"

using namespace siteplane;
using namespace siteplane::kube;
using siteplane::testing::Process;
using siteplane::testing::TempDir;

namespace {

// A TLS server on 127.0.0.1:port that answers its first client with `head` and then 64 MiB of
// zero bytes, never a newline.
std::unique_ptr<Process> endlessServer(const TempDir& dir, int port, const std::string& head) {
  auto certificate = siteplane::testing::makeCertificate(dir.path(), "server", {"localhost"});
  std::string script = "(printf '" + head +
                       "'; head -c 67108864 /dev/zero) | exec openssl s_server -quiet -naccept 1 "
                       "-accept 127.0.0.1:" +
                       std::to_string(port) + " -cert " + certificate.cert.string() + " -key " +
                       certificate.key.string();
  return std::make_unique<Process>(std::vector<std::string>{"sh", "-c", script});
}

// Until the server listens, a call fails with "Couldn't connect"; the one after is the real one.
bool stillStarting(const Status& status) {
  return status.message().find("Couldn't connect") != std::string::npos;
}

std::unique_ptr<KubeClient> clientFor(int port) {
  KubeConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.insecureSkipTlsVerify = true;  // the point is what it sends, not who it is
  auto client = KubeClient::create(config);
  REQUIRE(client);
  return std::move(client).value();
}

}  // namespace

TEST_CASE("A watch line longer than the event limit ends the watch with an error",
          "[kube][client][bounds]") {
  TempDir dir;
  int port = siteplane::testing::freePort();
  auto server =
      endlessServer(dir, port, "HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n\\r\\n");
  size_t lines = 0;
  auto client = clientFor(port);
  Status watched = Status::ok();
  REQUIRE(siteplane::testing::waitUntil([&] {
    watched = client->watch(
        "/api/v1/secrets?watch=1", [&](std::string_view) { return ++lines, true; },
        std::chrono::seconds(30), size_t{1} << 20);
    return !stillStarting(watched);
  }));
  REQUIRE_FALSE(watched);
  CHECK(watched.code() == ErrorCode::kUnavailable);
  CHECK_THAT(watched.message(), Catch::Contains("an event is larger than 1048576 bytes"));
  CHECK(lines == 0);
}

TEST_CASE("An answer larger than maxResponseBytes is an error, not a buffer without bound",
          "[kube][client][bounds]") {
  TempDir dir;
  int port = siteplane::testing::freePort();
  auto server = endlessServer(dir, port, "HTTP/1.1 200 OK\\r\\n\\r\\n");
  KubeRequestOptions options;
  options.maxResponseBytes = size_t{1} << 20;
  auto client = clientFor(port);
  Result<KubeResponse> answered = Status::error("not called");
  REQUIRE(siteplane::testing::waitUntil([&] {
    answered = client->request("GET", "/api/v1/secrets", "", options);
    return answered || !stillStarting(answered.status());
  }));
  REQUIRE_FALSE(answered);
  CHECK(answered.code() == ErrorCode::kUnavailable);
  CHECK_THAT(answered.message(), Catch::Contains("the answer is larger than 1048576 bytes"));
}

TEST_CASE("A Lease with fields of the wrong type costs the elector a round, not the process",
          "[kube][leader][bounds]") {
  TempDir dir;
  int port = siteplane::testing::freePort();
  auto certificate = siteplane::testing::makeCertificate(dir.path(), "server", {"localhost"});
  const std::string lease =
      R"({"metadata":{"resourceVersion":"7"},"spec":{"holderIdentity":"other",)"
      R"("leaseDurationSeconds":"fifteen"}})";
  dir.write("answer", "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(lease.size()) +
                          "\r\n\r\n" + lease);
  Process server({"sh", "-c",
                  "exec openssl s_server -quiet -naccept 1 -accept 127.0.0.1:" +
                      std::to_string(port) + " -cert " + certificate.cert.string() + " -key " +
                      certificate.key.string() + " < " + (dir.path() / "answer").string()});
  auto client = clientFor(port);
  LeaderElectionOptions options;
  options.ns = "default";
  options.name = "edge";
  options.identity = "me";
  options.leaseDuration = std::chrono::seconds(4);
  options.renewDeadline = std::chrono::seconds(3);
  options.retryPeriod = std::chrono::milliseconds(200);
  LeaderElector elector(*client, options);
  REQUIRE(elector.start());
  // The elector keeps trying until the malformed Lease has been read, and is still alive after.
  REQUIRE(siteplane::testing::waitUntil(
      [&] { return elector.observedHolder().empty() && !server.running(); }));
  CHECK_FALSE(elector.isLeader());
  elector.stop();
}

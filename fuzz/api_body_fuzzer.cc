// Fuzz target: request bodies of the Kubernetes-compatible API (controller/apiserver): JSON and
// YAML objects for create and update, JSON Patch, JSON merge patch and server-side apply, decoded
// and validated by the same ApiHandler kubectl talks to — without sockets.
//
// Input format (so that seeds are readable requests and mutations stay meaningful):
//   <METHOD> <Content-Type> <resource>[?query]\n<body>
// e.g. "PATCH application/merge-patch+json sites/web\n{\"spec\":{\"root\":\"/srv/b\"}}". A
// resource without a leading '/' is under /apis/siteplane.io/v1alpha1/namespaces/default/.
// Every write carries dryRun=All first (the handler reads the first value), so the store keeps
// the objects seeded at start-up and an input behaves the same whenever it runs: validation,
// patching and field management all happen, the fsync does not.
//
// Beyond "no crash": a client's body can never make the handler answer 500 (an exception it did
// not expect), and every reply is well formed: an error is a `kind: Status` whose code is the
// HTTP status, a success is an object of the resource's kind.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/logging.h"
#include "controller/apiserver/api_handler.h"
#include "controller/apiserver/embedded_crds.h"
#include "controller/store/store.h"
#include "fuzz/fuzz_check.h"

namespace {

namespace apiserver = siteplane::apiserver;
namespace store = siteplane::store;
using nlohmann::json;

constexpr const char* kGroupPrefix = "/apis/siteplane.io/v1alpha1/namespaces/default/";

json object(const std::string& kind, const std::string& name, json spec,
            json annotations = nullptr) {
  json metadata = {{"name", name}, {"namespace", "default"}, {"labels", {{"tier", "web"}}}};
  if (!annotations.is_null()) metadata["annotations"] = std::move(annotations);
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", kind},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)}};
}

struct Fixture {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<apiserver::ApiHandler> handler;
};

Fixture makeFixture() {
  (void)siteplane::configureLogging("off", siteplane::LogFormat::kText);
  Fixture fixture;
  // Stands still: every run writes the same timestamps. Static: the store and handler keep it.
  static siteplane::FakeClock fixedNow(siteplane::FakeClock::TimePoint(std::chrono::hours(1)),
                                       std::chrono::system_clock::from_time_t(1790000000));
  auto made = store::Store::create(siteplane::fuzz::scratchDirectory() / "state", fixedNow);
  FUZZ_CHECK(made.isOk(), made.isOk() ? std::string() : made.message());
  fixture.store = std::move(made).value();
  // One object of each kind for updates and patches to work on, and one that a manifest file
  // owns (API writes to it are refused with 403).
  std::vector<json> seeds = {
      object("Site", "web", {{"root", "/srv/www"}, {"ssl", {{"requireSSL", true}}}}),
      object("Site", "from-file", {{"root", "/srv/file"}},
             {{apiserver::kManifestFileAnnotation, "/srv/manifests/from-file.yaml"}}),
      object("Binding", "web-https",
             {{"siteRef", {{"name", "web"}}},
              {"protocol", "https"},
              {"address", "127.0.0.1"},
              {"port", 8443},
              {"hostName", "www.example.test"},
              {"certificateRef", {{"name", "web-tls"}}}}),
      object("Certificate", "web-tls",
             {{"dnsNames", {"www.example.test"}}, {"issuerRef", {{"name", "self"}}}}),
      object("Issuer", "self", {{"selfSigned", json::object()}}),
  };
  for (auto& seed : seeds) {
    auto created = fixture.store->createObject(std::move(seed));
    FUZZ_CHECK(created.isOk(), "seeding the store");
  }
  auto registry = apiserver::builtinResourceRegistry();
  FUZZ_CHECK(registry.isOk(), "builtinResourceRegistry");
  apiserver::ApiHandlerOptions options;
  options.clock = &fixedNow;
  // Small enough that the 413 path is reachable within -max_len.
  options.maxBodyBytes = 32 * 1024;
  fixture.handler =
      std::make_unique<apiserver::ApiHandler>(*fixture.store, std::move(registry).value(), options);
  return fixture;
}

Fixture& fixture() {
  static Fixture instance = makeFixture();
  return instance;
}

void checkReply(const apiserver::ApiReply& reply, const std::string& method,
                const std::string& target) {
  const auto& response = reply.response;
  std::string what = method + " " + target + " -> " + std::to_string(response.status) + " " +
                     response.body.substr(0, 2000);
  FUZZ_CHECK(reply.watch == nullptr, "a write started a watch: " + what);
  FUZZ_CHECK(response.status >= 200 && response.status < 500, "server error: " + what);
  FUZZ_CHECK(response.contentType == "application/json", "content type: " + what);
  json body = json::parse(response.body, nullptr, false);
  FUZZ_CHECK(!body.is_discarded() && body.is_object(), "reply is not a JSON object: " + what);
  if (response.status >= 400) {
    FUZZ_CHECK(body.value("kind", "") == "Status", "error is not a Status: " + what);
    FUZZ_CHECK(body.value("code", 0) == response.status, "Status code differs: " + what);
    FUZZ_CHECK(!body.value("message", "").empty(), "Status without a message: " + what);
  } else {
    FUZZ_CHECK(body.contains("kind") && body.contains("metadata"),
               "success without an object: " + what);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  std::string_view line = input.substr(0, newline);
  std::string body(input.substr(newline + 1));

  size_t space1 = line.find(' ');
  size_t space2 = space1 == std::string_view::npos ? space1 : line.find(' ', space1 + 1);
  if (space2 == std::string_view::npos) return 0;
  std::string method(line.substr(0, space1));
  std::string contentType(line.substr(space1 + 1, space2 - space1 - 1));
  std::string_view resource = line.substr(space2 + 1);
  // Reads and watches are not what this target is about, and a watch would outlive the input.
  if (method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE") return 0;

  size_t question = resource.find('?');
  std::string_view path = resource.substr(0, question);
  // Absolute paths only into the API groups: /healthz and friends answer any method with text.
  if (!path.empty() && path.front() == '/' && path.substr(0, 4) != "/api") return 0;
  std::string query = "dryRun=All";
  if (question != std::string_view::npos) query += "&" + std::string(resource.substr(question + 1));
  std::string target =
      (!path.empty() && path.front() == '/' ? "" : kGroupPrefix) + std::string(path) + "?" + query;

  apiserver::Headers headers;
  if (!contentType.empty() && contentType != "-") headers["Content-Type"] = contentType;
  auto request = apiserver::ApiRequest::make(method, target, body, headers);
  auto reply = fixture().handler->handle(request);
  checkReply(reply, method, target);
  return 0;
}

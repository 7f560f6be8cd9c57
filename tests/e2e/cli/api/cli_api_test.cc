// siteplane apply/get/describe/delete against the real API server over HTTPS on 127.0.0.1, using
// the kubeconfig the server writes, exactly as a user points the CLI at `siteplane serve`.

#include <catch2/catch.hpp>
#include <fstream>

#include "controller/apiserver/api_server.h"
#include "controller/store/store.h"
#include "tests/support/test_support.h"

namespace siteplane::testing {
namespace {

namespace fs = std::filesystem;

std::string siteplane() { return (fs::path(SITEPLANE_BINARY_DIR) / "siteplane").string(); }

bool oneLine(const std::string& text) {
  return !text.empty() && text.back() == '\n' && text.find('\n') == text.size() - 1;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

struct Server {
  Server() {
    auto made = store::Store::create(state.path() / "store");
    if (!made) throw std::runtime_error(made.message());
    store = std::move(made).value();
    apiserver::ApiServerOptions options;
    options.listen = "127.0.0.1:0";
    options.stateDir = state.path();
    auto created = apiserver::ApiServer::create(std::move(options), *store);
    if (!created) throw std::runtime_error(created.message());
    server = std::move(created).value();
    Status started = server->start();
    if (!started) throw std::runtime_error(started.message());
  }

  // Runs siteplane with --state pointing at the server's state directory.
  CommandResult cli(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), siteplane());
    args.push_back("--state");
    args.push_back(state.path().string());
    return run(args, input);
  }

  TempDir state;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<apiserver::ApiServer> server;
};

const std::string kManifests =
    "apiVersion: siteplane.io/v1alpha1\n"
    "kind: Site\n"
    "metadata:\n"
    "  name: web\n"
    "  labels: {tier: front}\n"
    "spec:\n"
    "  root: www\n"
    "---\n"
    "apiVersion: siteplane.io/v1alpha1\n"
    "kind: Binding\n"
    "metadata:\n"
    "  name: web-http\n"
    "spec:\n"
    "  siteRef: {name: web}\n"
    "  protocol: http\n"
    "  port: 8080\n"
    "  hostName: www.example.test\n";

}  // namespace

TEST_CASE("apply creates objects, a second apply leaves them unchanged, a change configures them",
          "[e2e][cli][api]") {
  Server server;
  TempDir manifests;
  auto file = manifests.write("site.yaml", kManifests);
  auto first = server.cli({"apply", "-f", file.string()});
  INFO(first.err);
  REQUIRE(first.exitCode == 0);
  CHECK(first.out == "site.siteplane.io/web created\nbinding.siteplane.io/web-http created\n");

  auto again = server.cli({"apply", "-f", file.string()});
  CHECK(again.exitCode == 0);
  CHECK(again.out == "site.siteplane.io/web unchanged\nbinding.siteplane.io/web-http unchanged\n");

  std::string changed = kManifests;
  changed.replace(changed.find("port: 8080"), 10, "port: 8081");
  manifests.write("site.yaml", changed);
  auto third = server.cli({"apply", "-f", file.string()});
  CHECK(third.exitCode == 0);
  CHECK(third.out == "site.siteplane.io/web unchanged\nbinding.siteplane.io/web-http configured\n");

  // The relative root was resolved against the manifest's directory before it was sent.
  auto yaml = server.cli({"get", "site", "web", "-o", "yaml"});
  CHECK(yaml.exitCode == 0);
  CHECK(contains(yaml.out, "root: " + (fs::canonical(manifests.path()) / "www").string()));
  CHECK(contains(yaml.out, "manager: siteplane"));
}

TEST_CASE("apply --dry-run validates on the server without storing", "[e2e][cli][api]") {
  Server server;
  auto dryRun = server.cli({"apply", "-f", "-", "--dry-run"}, kManifests);
  CHECK(dryRun.exitCode == 0);
  CHECK(contains(dryRun.out, "site.siteplane.io/web created (dry run)"));
  auto get = server.cli({"get", "sites", "web"});
  CHECK(get.exitCode == 1);
  CHECK(oneLine(get.err));
  CHECK(contains(get.err, "not found"));
}

TEST_CASE("get prints the printer columns, wide adds the rest, json and name forms",
          "[e2e][cli][api]") {
  Server server;
  REQUIRE(server.cli({"apply", "-f", "-"}, kManifests).exitCode == 0);
  auto table = server.cli({"get", "bindings"});
  REQUIRE(table.exitCode == 0);
  CHECK(table.out.rfind("NAME", 0) == 0);
  CHECK(contains(table.out, "web-http"));
  CHECK(contains(table.out, "www.example.test"));
  auto wide = server.cli({"get", "bindings", "-o", "wide"});
  REQUIRE(wide.exitCode == 0);
  // -o wide shows at least as many columns as the default view.
  auto headerWords = [](const std::string& out) {
    std::string header = out.substr(0, out.find('\n'));
    size_t words = 0;
    bool in = false;
    for (size_t i = 0; i < header.size(); ++i) {
      bool space = header[i] == ' ' && (i + 1 < header.size() && header[i + 1] == ' ');
      if (!space && !in) ++words;
      in = !space;
    }
    return words;
  };
  CHECK(headerWords(wide.out) >= headerWords(table.out));

  auto json = server.cli({"get", "binding", "web-http", "-o", "json"});
  REQUIRE(json.exitCode == 0);
  auto parsed = nlohmann::json::parse(json.out);
  CHECK(parsed["spec"]["port"] == 8080);
  auto names = server.cli({"get", "sites", "-o", "name"});
  CHECK(names.out == "site.siteplane.io/web\n");
  auto all = server.cli({"get", "sites", "-A"});
  CHECK(all.out.rfind("NAMESPACE", 0) == 0);
  auto selected = server.cli({"get", "sites", "-l", "tier=back"});
  CHECK(selected.exitCode == 0);
  CHECK(contains(selected.err, "No resources found"));
}

TEST_CASE("describe shows metadata, spec, status and conditions", "[e2e][cli][api]") {
  Server server;
  REQUIRE(server.cli({"apply", "-f", "-"}, kManifests).exitCode == 0);
  auto described = server.cli({"describe", "binding", "web-http"});
  INFO(described.err);
  REQUIRE(described.exitCode == 0);
  CHECK(contains(described.out, "Name:        web-http"));
  CHECK(contains(described.out, "Kind:        Binding"));
  CHECK(contains(described.out, "Spec:\n"));
  CHECK(contains(described.out, "  port: 8080"));
  CHECK(contains(described.out, "Conditions:\n"));
  CHECK(contains(described.out, "Events:"));
  auto missing = server.cli({"describe", "binding", "nope"});
  CHECK(missing.exitCode == 1);
  CHECK(oneLine(missing.err));
  CHECK(contains(missing.err, "nope"));
}

TEST_CASE("delete by name and by manifest, and a missing object is an error unless ignored",
          "[e2e][cli][api]") {
  Server server;
  REQUIRE(server.cli({"apply", "-f", "-"}, kManifests).exitCode == 0);
  auto byName = server.cli({"delete", "binding", "web-http"});
  CHECK(byName.exitCode == 0);
  CHECK(byName.out == "binding.siteplane.io/web-http deleted\n");
  auto byFile = server.cli({"delete", "-f", "-", "--ignore-not-found"}, kManifests);
  CHECK(byFile.exitCode == 0);
  CHECK(byFile.out == "site.siteplane.io/web deleted\n");
  auto again = server.cli({"delete", "site", "web"});
  CHECK(again.exitCode == 1);
  CHECK(oneLine(again.err));
  CHECK(contains(again.err, "not found"));
}

TEST_CASE("apply --prune deletes what the directory applied before and no longer declares",
          "[e2e][cli][api]") {
  Server server;
  TempDir manifests;
  manifests.write("web.yaml", kManifests);
  auto first = server.cli({"apply", "-f", manifests.path().string(), "--prune"});
  INFO(first.err);
  REQUIRE(first.exitCode == 0);
  // An object applied from elsewhere is not this directory's to prune.
  auto other = server.cli({"apply", "-f", "-"},
                          "apiVersion: siteplane.io/v1alpha1\nkind: Site\nmetadata:\n  name: "
                          "other\nspec:\n  root: /srv\n");
  REQUIRE(other.exitCode == 0);

  std::string siteOnly = kManifests.substr(0, kManifests.find("---"));
  manifests.write("web.yaml", siteOnly);
  auto pruned = server.cli({"apply", "-f", manifests.path().string(), "--prune"});
  INFO(pruned.err);
  REQUIRE(pruned.exitCode == 0);
  CHECK(contains(pruned.out, "binding.siteplane.io/web-http pruned"));
  CHECK(server.cli({"get", "binding", "web-http"}).exitCode == 1);
  CHECK(server.cli({"get", "site", "other"}).exitCode == 0);
  CHECK(server.cli({"get", "site", "web"}).exitCode == 0);
}

TEST_CASE("A wrong token gets one line saying the server refused it", "[e2e][cli][api]") {
  Server server;
  std::string config = readFile(server.server->kubeconfigPath());
  std::string token = server.server->credentials().token;
  config.replace(config.find(token), token.size(), std::string(token.size(), 'f'));
  TempDir dir;
  auto kubeconfig = dir.write("kubeconfig", config);
  auto result = run({siteplane(), "get", "sites", "--kubeconfig", kubeconfig.string()});
  CHECK(result.exitCode == 1);
  CHECK(oneLine(result.err));
  CHECK(contains(result.err, "401"));
}

TEST_CASE("diff exits 1 with a unified diff when apply would change something, 0 when not",
          "[e2e][cli][api]") {
  Server server;
  TempDir manifests;
  auto file = manifests.write("site.yaml", kManifests);
  auto before = server.cli({"diff", "-f", file.string()});
  CHECK(before.exitCode == 1);
  CHECK(contains(before.out, "+kind: Binding"));
  REQUIRE(server.cli({"apply", "-f", file.string()}).exitCode == 0);
  auto same = server.cli({"diff", "-f", file.string()});
  INFO(same.out);
  CHECK(same.exitCode == 0);
  CHECK(same.out.empty());
  std::string changed = kManifests;
  changed.replace(changed.find("port: 8080"), 10, "port: 8081");
  manifests.write("site.yaml", changed);
  auto after = server.cli({"diff", "-f", file.string()});
  CHECK(after.exitCode == 1);
  CHECK(contains(after.out, "-  port: 8080"));
  CHECK(contains(after.out, "+  port: 8081"));
  // Nothing was stored by diff.
  auto live = server.cli({"get", "binding", "web-http", "-o", "json"});
  CHECK(nlohmann::json::parse(live.out)["spec"]["port"] == 8080);
}

TEST_CASE("wait returns once the condition holds and times out naming what it saw",
          "[e2e][cli][api]") {
  Server server;
  REQUIRE(server.cli({"apply", "-f", "-"}, kManifests).exitCode == 0);
  auto timedOut =
      server.cli({"wait", "--for=condition=Programmed", "binding/web-http", "--timeout", "1s"});
  CHECK(timedOut.exitCode == 1);
  CHECK(oneLine(timedOut.err));
  CHECK(contains(timedOut.err, "timed out after 1s waiting for Programmed=True"));

  // Status comes from the controller; write it the way a reconciler does, through /status.
  std::string status =
      R"({"status":{"conditions":[{"type":"Programmed","status":"True","reason":"Programmed",)"
      R"("message":"served","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}]}})";
  auto patched =
      run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
           (server.state.path() / "api" / "ca.crt").string(), "-H",
           "Authorization: Bearer " + server.server->credentials().token, "-H",
           "Content-Type: application/merge-patch+json", "-X", "PATCH", "--data", status,
           server.server->url() +
               "/apis/siteplane.io/v1alpha1/namespaces/default/bindings/web-http/status"});
  REQUIRE(patched.out == "200");
  auto met =
      server.cli({"wait", "--for=condition=Programmed", "binding/web-http", "--timeout", "10s"});
  CHECK(met.exitCode == 0);
  CHECK(met.out == "binding.siteplane.io/web-http condition met\n");
}

TEST_CASE("version prints the client and the server version", "[e2e][cli][api]") {
  Server server;
  auto result = server.cli({"version"});
  CHECK(result.exitCode == 0);
  CHECK(contains(result.out, "Server Version: v"));
}

}  // namespace siteplane::testing

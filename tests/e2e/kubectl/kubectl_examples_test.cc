// The real kubectl against a real `siteplane serve`: the repository's example manifests applied
// client-side (validation on) and server-side, listed, described, waited for, checked against
// what the data plane serves, and deleted.
//
// Relative paths: kubectl sends `root: sites/contoso-www` as written (it cannot know what the
// path means), and serve resolves a relative path of an object that arrived through the API
// against its --manifests directory, the only directory it knows. So the examples' sites/ folder
// goes into serve's manifest directory (which holds no manifests) and the YAML is applied from a
// different directory that has no sites/ at all.

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/e2e/kubectl/kubectl_session.h"

namespace siteplane::testing {
namespace {

namespace fs = std::filesystem;

// The example objects, as `kubectl apply` names them.
const std::vector<std::string> kExampleObjects = {
    "issuer.siteplane.io/selfsigned",
    "issuer.siteplane.io/contoso-ca",
    "certificate.siteplane.io/contoso-ca",
    "certificate.siteplane.io/default-web-site",
    "certificate.siteplane.io/contoso-www",
    "certificate.siteplane.io/contoso-shop",
    "certificate.siteplane.io/intranet",
    "certificate.siteplane.io/intranet-client",
    "site.siteplane.io/default-web-site",
    "site.siteplane.io/contoso-www",
    "site.siteplane.io/contoso-shop",
    "site.siteplane.io/intranet",
    "binding.siteplane.io/default-web-site-https",
    "binding.siteplane.io/default-web-site-http",
    "binding.siteplane.io/contoso-www-https",
    "binding.siteplane.io/contoso-www-http",
    "binding.siteplane.io/contoso-shop-https",
    "binding.siteplane.io/intranet-https",
};

std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// The line of a `kubectl get` table whose first column is `name`.
std::string row(const std::string& table, const std::string& name) {
  size_t start = 0;
  while (start < table.size()) {
    size_t end = table.find('\n', start);
    if (end == std::string::npos) end = table.size();
    std::string line = table.substr(start, end - start);
    if (line.rfind(name + " ", 0) == 0) return line;
    start = end + 1;
  }
  return "";
}

}  // namespace

TEST_CASE(
    "kubectl applies the example manifests to siteplane serve, which programs and serves "
    "them until kubectl deletes them",
    "[e2e][kubectl]") {
  KubectlSession session;
  Server& server = session.server();
  fs::copy(sourceDir() / "manifests" / "sites", server.manifests() / "sites",
           fs::copy_options::recursive);
  ExampleManifests examples = copyExampleManifests(server.dir().path() / "apply");
  REQUIRE_FALSE(fs::exists(examples.dir / "sites"));
  const int https = examples.port(8443);
  const int intranet = examples.port(9443);
  const int http = examples.port(8080);

  // Client-side apply with kubectl's default --validate=strict: kubectl checks every document
  // against serve's OpenAPI and the server with fieldValidation=Strict.
  auto applied = session.kubectl({"apply", "-f", examples.dir.string()});
  INFO(applied.out << applied.err);
  REQUIRE(applied.exitCode == 0);
  CHECK_THAT(applied.err, !Catch::Contains("validat"));
  for (const auto& object : kExampleObjects)
    CHECK_THAT(applied.out, Catch::Contains(object + " created"));

  auto programmed =
      session.kubectl({"wait", "--for=condition=Programmed", "bindings", "--all", "--timeout=60s"});
  INFO(programmed.out << programmed.err << server.log());
  REQUIRE(programmed.exitCode == 0);
  auto waited = session.kubectl(
      {"wait", "--for=condition=Programmed", "binding/contoso-www-https", "--timeout=60s"});
  REQUIRE(waited.exitCode == 0);
  CHECK_THAT(waited.out, Catch::Contains("binding.siteplane.io/contoso-www-https condition met"));
  auto ready = session.kubectl(
      {"wait", "--for=condition=Ready", "sites,certificates", "--all", "--timeout=60s"});
  INFO(ready.err);
  CHECK(ready.exitCode == 0);

  // Every listener stayed on loopback: the examples' 127.0.0.1 survived the copy.
  auto listening = session.kubectl(
      {"get", "bindings", "-o", "jsonpath={range .items[*]}{.status.listenAddress}{\"\\n\"}{end}"});
  REQUIRE(listening.exitCode == 0);
  for (const auto& address :
       {"127.0.0.1:" + std::to_string(https), "127.0.0.1:" + std::to_string(intranet),
        "127.0.0.1:" + std::to_string(http)})
    CHECK_THAT(listening.out, Catch::Contains(address));
  for (size_t start = 0, end; start < listening.out.size(); start = end + 1) {
    end = listening.out.find('\n', start);
    if (end == std::string::npos) end = listening.out.size();
    CHECK(listening.out.substr(start, 10) == "127.0.0.1:");
  }

  // The relative root is stored as written and served from serve's manifest directory.
  auto root = session.kubectl({"get", "site", "contoso-www", "-o", "jsonpath={.spec.root}"});
  CHECK(root.out == "sites/contoso-www");
  std::string caFile =
      (server.state() / "certificates" / "default" / "contoso-ca" / "tls.crt").string();
  auto page = run({"curl", "-sS", "--max-time", "10", "--cacert", caFile, "--resolve",
                   "www.contoso.test:" + std::to_string(https) + ":127.0.0.1",
                   "https://www.contoso.test:" + std::to_string(https) + "/index.html"});
  INFO(page.err);
  CHECK(page.exitCode == 0);
  CHECK(page.out == readFile(sourceDir() / "manifests" / "sites" / "contoso-www" / "index.html"));

  // Server-side apply of the same files takes over the fields without conflicts.
  auto serverSide = session.kubectl({"apply", "--server-side", "-f", examples.dir.string()});
  INFO(serverSide.err);
  REQUIRE(serverSide.exitCode == 0);
  for (const auto& object : kExampleObjects)
    CHECK_THAT(serverSide.out, Catch::Contains(object + " serverside-applied"));

  // kubectl diff: nothing for the applied files; for a changed host name, that line and the
  // generation it bumps (the server's dry-run answer keeps uid and creationTimestamp, as a real
  // update would).
  auto same = session.kubectl({"diff", "-f", examples.dir.string()});
  INFO(same.out << same.err);
  CHECK(same.exitCode == 0);
  std::string redirect = readFile(examples.dir / "http-redirect.yaml");
  redirect.replace(redirect.find("hostName: www.contoso.test"), 26, "hostName: www2.contoso.test");
  TempDir changedDir;
  auto changed = changedDir.write("http-redirect.yaml", redirect);
  auto diff = session.kubectl({"diff", "-f", changed.string()});
  INFO(diff.out << diff.err);
  CHECK(diff.exitCode == 1);
  CHECK_THAT(diff.out, Catch::Contains("-  hostName: www.contoso.test"));
  CHECK_THAT(diff.out, Catch::Contains("+  hostName: www2.contoso.test"));
  for (const char* unchanged : {"uid:", "creationTimestamp:", "resourceVersion:"})
    CHECK_THAT(diff.out, !Catch::Contains(std::string("-  ") + unchanged));
  CHECK_THAT(diff.out, Catch::Contains("+  generation: "));

  auto listed = session.kubectl({"get", "sites,bindings,certificates,issuers"});
  INFO(listed.err);
  REQUIRE(listed.exitCode == 0);
  for (const auto& object : kExampleObjects) CHECK_THAT(listed.out, Catch::Contains(object + " "));

  // kubectl get pages through a list in chunks (limit/continue) and still sees every object.
  auto chunked = session.kubectl({"get", "bindings", "--chunk-size=2", "-o", "name"});
  INFO(chunked.err);
  REQUIRE(chunked.exitCode == 0);
  for (const auto& object : kExampleObjects)
    if (object.rfind("binding.", 0) == 0) CHECK_THAT(chunked.out, Catch::Contains(object + "\n"));

  // The CRD's printer columns, wide ones included, and the values of one row.
  auto thumbprint =
      session.kubectl({"get", "certificate", "contoso-www", "-o", "jsonpath={.status.thumbprint}"});
  REQUIRE(thumbprint.exitCode == 0);
  REQUIRE(thumbprint.out.size() == 40);
  auto wide = session.kubectl({"get", "bindings", "-o", "wide"});
  INFO(wide.out << wide.err);
  REQUIRE(wide.exitCode == 0);
  std::string header = firstLine(wide.out);
  size_t previous = 0;
  for (const char* column : {"NAME", "SITE", "PROTOCOL", "ADDRESS", "PORT", "HOST", "CERTIFICATE",
                             "PROGRAMMED", "BINDING INFORMATION", "LISTEN", "THUMBPRINT", "AGE"}) {
    size_t at = header.find(column, previous);
    CHECK(at != std::string::npos);
    if (at != std::string::npos) previous = at;
  }
  std::string line = row(wide.out, "contoso-www-https");
  CHECK_THAT(line, Catch::Contains(" contoso-www "));
  CHECK_THAT(line, Catch::Contains(" https "));
  CHECK_THAT(line, Catch::Contains(" " + std::to_string(https) + " "));
  CHECK_THAT(line, Catch::Contains(" www.contoso.test "));
  CHECK_THAT(line, Catch::Contains(" True "));
  CHECK_THAT(line, Catch::Contains(" 127.0.0.1:" + std::to_string(https) + " "));
  CHECK_THAT(line, Catch::Contains(" " + thumbprint.out + " "));
  CHECK_THAT(row(wide.out, "default-web-site-http"),
             Catch::Contains(" 127.0.0.1:" + std::to_string(http) + ": "));

  // What kubectl reports is what the data plane serves, for every SNI name (and for a name no
  // binding claims: the listener's default certificate).
  const std::vector<std::tuple<int, std::string, std::string>> served = {
      {https, "www.contoso.test", "contoso-www"},
      {https, "shop.contoso.test", "contoso-shop"},
      {https, "localhost", "default-web-site"},
      {intranet, "intranet.contoso.test", "intranet"},
  };
  for (const auto& [port, sni, certificate] : served) {
    auto expected =
        session.kubectl({"get", "certificate", certificate, "-o", "jsonpath={.status.thumbprint}"});
    INFO(sni << " on " << port << " should present " << certificate);
    CHECK(expected.out.size() == 40);
    CHECK(servedThumbprint(port, sni) == expected.out);
  }

  // describe shows the status conditions and the events about the object, found through the
  // Events API with the object's uid (as a controller posting an Event would write it).
  auto uid =
      session.kubectl({"get", "certificate", "contoso-www", "-o", "jsonpath={.metadata.uid}"});
  REQUIRE(!uid.out.empty());
  TempDir work;
  auto event = work.write("event.yaml", R"(apiVersion: v1
kind: Event
metadata:
  name: contoso-www-checked
involvedObject:
  apiVersion: siteplane.io/v1alpha1
  kind: Certificate
  namespace: default
  name: contoso-www
  uid: )" + uid.out + R"(
reason: Checked
message: the served certificate matches the status
type: Normal
count: 1
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
source:
  component: kubectl-e2e
)");
  auto created = session.kubectl({"create", "-f", event.string()});
  INFO(created.err);
  REQUIRE(created.exitCode == 0);
  auto described = session.kubectl({"describe", "certificate", "contoso-www"});
  INFO(described.out << described.err);
  REQUIRE(described.exitCode == 0);
  CHECK_THAT(described.out, Catch::Contains("Conditions:"));
  CHECK_THAT(described.out, Catch::Contains("Issued"));
  CHECK_THAT(described.out, Catch::Contains(thumbprint.out));
  std::string events =
      described.out.substr(std::min(described.out.find("\nEvents:"), described.out.size()));
  CHECK_THAT(events, Catch::Contains("Checked"));
  CHECK_THAT(events, Catch::Contains("the served certificate matches the status"));

  // delete -f removes every object and closes every listener.
  auto deleted = session.kubectl({"delete", "-f", examples.dir.string()});
  INFO(deleted.err);
  REQUIRE(deleted.exitCode == 0);
  CHECK_THAT(deleted.out, Catch::Contains("binding.siteplane.io \"contoso-www-https\" deleted"));
  auto remaining = session.kubectl({"get", "sites,bindings,certificates,issuers", "-o", "name"});
  REQUIRE(remaining.exitCode == 0);
  CHECK(remaining.out.empty());
  CHECK(waitUntil([&] { return portClosed(https) && portClosed(intranet) && portClosed(http); },
                  kDeadline));
  CHECK(session.kubectl({"get", "binding", "contoso-www-https"}).exitCode != 0);
}

}  // namespace siteplane::testing

#include "controller/api/object_codec.h"

#include <catch2/catch.hpp>

namespace siteplane::api {
namespace {

nlohmann::json withSpec(const std::string& kind, nlohmann::json spec,
                        const std::string& name = "x") {
  return {{"apiVersion", "siteplane.io/v1alpha1"},
          {"kind", kind},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

std::vector<std::string> errorsOf(const nlohmann::json& document) {
  std::vector<std::string> out;
  for (const auto& diagnostic : decodeObject(document).diagnostics) {
    out.push_back(diagnostic.toString());
  }
  return out;
}

const nlohmann::json kSite = {{"root", "/srv/www"}};
const nlohmann::json kHttpsBinding = {{"siteRef", {{"name", "web"}}},
                                      {"protocol", "https"},
                                      {"certificateRef", {{"name", "web-tls"}}}};

nlohmann::json patched(nlohmann::json base, const nlohmann::json& patch) {
  base.merge_patch(patch);
  return base;
}

}  // namespace

TEST_CASE("decodeObject applies Binding defaults", "[controller][api]") {
  auto result = decodeObject(withSpec("Binding", kHttpsBinding, "web-https"));
  REQUIRE(result.ok());
  const auto& binding = std::get<Binding>(*result.object);
  CHECK(binding.metadata.name == "web-https");
  CHECK(binding.metadata.namespaceName == "default");
  CHECK(binding.spec.protocol == Protocol::kHttps);
  CHECK(binding.spec.address == "*");
  CHECK(binding.spec.port == 443);
  CHECK(binding.spec.hostName.empty());
  CHECK(binding.spec.certificateRef->name == "web-tls");
  CHECK(keyOf(*result.object).toString() == "Binding/default/web-https");
  CHECK(describe(*result.object) ==
        "Binding default/web-https: https *:443 host=(any) site=web cert=web-tls");

  auto http =
      decodeObject(withSpec("Binding", {{"siteRef", {{"name", "web"}}}, {"protocol", "http"}}));
  REQUIRE(http.ok());
  CHECK(std::get<Binding>(*http.object).spec.port == 80);
}

TEST_CASE("decodeObject applies Certificate defaults", "[controller][api]") {
  auto result = decodeObject(withSpec(
      "Certificate", {{"dnsNames", {"www.contoso.com"}}, {"issuerRef", {{"name", "ca"}}}}));
  REQUIRE(result.ok());
  const auto& spec = std::get<Certificate>(*result.object).spec;
  CHECK(spec.duration == std::chrono::hours(2160));
  CHECK(spec.renewBefore == std::chrono::hours(720));
  CHECK(spec.privateKey.algorithm == KeyAlgorithm::kECDSA);
  CHECK(spec.privateKey.size == 256);
  CHECK(spec.privateKey.rotationPolicy == RotationPolicy::kNever);
  CHECK(spec.issuerRef->kind == "Issuer");
  CHECK(spec.usages ==
        std::vector<std::string>{"digital signature", "key encipherment", "server auth"});

  auto rsa = decodeObject(withSpec("Certificate", {{"commonName", "ca"},
                                                   {"isCA", true},
                                                   {"duration", "90d"},
                                                   {"privateKey", {{"algorithm", "RSA"}}},
                                                   {"issuerRef", {{"name", "self"}}}}));
  REQUIRE(rsa.ok());
  const auto& rsaSpec = std::get<Certificate>(*rsa.object).spec;
  CHECK(rsaSpec.privateKey.size == 2048);
  CHECK(rsaSpec.duration == std::chrono::hours(2160));
  CHECK(rsaSpec.renewBefore == std::chrono::hours(720));
  CHECK(rsaSpec.usages.back() == "cert sign");
}

TEST_CASE("decodeObject applies Site defaults", "[controller][api]") {
  auto result = decodeObject(withSpec("Site", kSite));
  REQUIRE(result.ok());
  const auto& spec = std::get<Site>(*result.object).spec;
  CHECK(spec.root == "/srv/www");
  CHECK_FALSE(spec.siteId.has_value());
  CHECK(spec.ssl.minTLSVersion == TlsVersion::k1_2);
  CHECK(spec.ssl.clientCertificate == ClientCertificateMode::kIgnore);
  CHECK_FALSE(spec.ssl.requireSSL);
}

TEST_CASE("decodeObject resolves relative paths against the manifest directory",
          "[controller][api]") {
  DecodeOptions options;
  options.baseDirectory = "/etc/siteplane/manifests";
  auto site = decodeObject(withSpec("Site", {{"root", "../www/contoso"}}), options);
  REQUIRE(site.ok());
  CHECK(std::get<Site>(*site.object).spec.root == "/etc/siteplane/www/contoso");

  auto certificate = decodeObject(
      withSpec("Certificate",
               {{"source", {{"certificateFile", "tls/a.crt"}, {"privateKeyFile", "/abs/a.key"}}}}),
      options);
  REQUIRE(certificate.ok());
  const auto& source = *std::get<Certificate>(*certificate.object).spec.source;
  CHECK(source.certificateFile == "/etc/siteplane/manifests/tls/a.crt");
  CHECK(source.privateKeyFile == "/abs/a.key");
}

TEST_CASE("decodeObject parses bindingInformation into address, port and hostName",
          "[controller][api]") {
  struct Case {
    std::string information;
    std::string address;
    uint16_t port;
    std::string host;
  };
  for (const auto& c :
       std::vector<Case>{{"*:443:www.contoso.com", "*", 443, "www.contoso.com"},
                         {"127.0.0.1:8443:", "127.0.0.1", 8443, ""},
                         {"[::1]:443:*.contoso.com", "::1", 443, "*.contoso.com"}}) {
    auto spec = kHttpsBinding;
    spec["bindingInformation"] = c.information;
    auto result = decodeObject(withSpec("Binding", spec));
    INFO(c.information);
    REQUIRE(result.ok());
    const auto& binding = std::get<Binding>(*result.object).spec;
    CHECK(binding.address == c.address);
    CHECK(binding.port == c.port);
    CHECK(binding.hostName == c.host);
    CHECK(encodeObject(*result.object)["spec"]["bindingInformation"] == c.information);
  }
}

TEST_CASE("decodeObject reports each validation rule with its exact path and message",
          "[controller][api]") {
  struct Case {
    nlohmann::json document;
    std::vector<std::string> errors;
  };
  const std::string b = "Binding \"x\" ";
  const std::string s = "Site \"x\" ";
  const std::string c = "Certificate \"x\" ";
  const std::string i = "Issuer \"x\" ";
  const std::string dns1123 =
      "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a "
      "letter or digit, at most 63 characters)";
  std::vector<Case> cases = {
      // Binding
      {withSpec("Binding", patched(kHttpsBinding, {{"port", 70000}})),
       {b + "spec.port: must be between 1 and 65535, got 70000"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"port", 0}})),
       {b + "spec.port: must be between 1 and 65535, got 0"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"port", "443"}})),
       {b + "spec.port: must be an integer, got string \"443\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"protocol", "ftp"}})),
       {b + "spec.protocol: must be \"http\" or \"https\", got \"ftp\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"protocol", nullptr}})),
       {b + "spec.protocol: is required"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"certificateRef", nullptr}})),
       {b + "spec.certificateRef: is required when protocol is https"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"protocol", "http"}})),
       {b + "spec.certificateRef: must not be set when protocol is http"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"address", "localhost"}})),
       {b + "spec.address: must be \"*\" or an IPv4/IPv6 address, got \"localhost\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"address", "10.0.0.256"}})),
       {b + "spec.address: must be \"*\" or an IPv4/IPv6 address, got \"10.0.0.256\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"hostName", "www..contoso.com"}})),
       {b + "spec.hostName: must be a DNS name such as www.example.com or a wildcard such as "
            "*.example.com, got \"www..contoso.com\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"hostName", "*.*.contoso.com"}})),
       {b + "spec.hostName: must be a DNS name such as www.example.com or a wildcard such as "
            "*.example.com, got \"*.*.contoso.com\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"hostName", std::string(64, 'a') + ".com"}})),
       {b +
        "spec.hostName: must be a DNS name such as www.example.com or a wildcard such as "
        "*.example.com, got \"" +
        std::string(64, 'a') + ".com\""}},
      {withSpec("Binding",
                patched(kHttpsBinding, {{"bindingInformation", "*:443:a.com"}, {"port", 443}})),
       {b + "spec.port: cannot be set together with bindingInformation"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"bindingInformation", "*:99999:a.com"}})),
       {b + "spec.bindingInformation: port must be between 1 and 65535, got \"99999\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"bindingInformation", "::1:443:a.com"}})),
       {b + "spec.bindingInformation: an IPv6 address must be in brackets, as in "
            "\"[::1]:443:www.contoso.com\", got \"::1:443:a.com\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"bindingInformation", "1.2.3:443:a.com"}})),
       {b + "spec.bindingInformation: IP must be \"*\", an IPv4 address or a bracketed IPv6 "
            "address, got \"1.2.3\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"port", 443.5}})),
       {b + "spec.port: must be an integer, got number 443.5"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"bindingInformation", "*:443"}})),
       {b + "spec.bindingInformation: must have the form \"IP:port:hostName\" (e.g. "
            "\"*:443:www.contoso.com\"), got \"*:443\""}},
      {withSpec("Binding", patched(kHttpsBinding, {{"siteRef", {{"name", "Web"}}}})),
       {b + "spec.siteRef.name: " + dns1123 + ", got \"Web\""}},
      {withSpec("Binding",
                patched(kHttpsBinding, {{"siteRef", {{"name", nullptr}, {"nam", "web"}}}})),
       {b + "spec.siteRef.name: is required",
        b + "spec.siteRef.nam: unknown field; did you mean \"name\"?"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"hostname", "a.com"}})),
       {b + "spec.hostname: unknown field; did you mean \"hostName\"?"}},
      {withSpec("Binding", patched(kHttpsBinding, {{"colour", "blue"}})),
       {b + "spec.colour: unknown field"}},
      // Site
      {withSpec("Site", {{"root", "/a"}, {"upstream", "http://127.0.0.1:8080"}}),
       {s + "spec.upstream: cannot be set together with root; a Site serves files or proxies"}},
      {withSpec("Site", nlohmann::json::object()),
       {s + "spec: one of root or upstream is required"}},
      {withSpec("Site", {{"upstream", "https://backend:8080"}}),
       {s + "spec.upstream: must be an http URL of the form http://host:port, got "
            "\"https://backend:8080\""}},
      {withSpec("Site", {{"upstream", "http://backend"}}),
       {s +
        "spec.upstream: must be an http URL of the form http://host:port, got \"http://backend\""}},
      {withSpec("Site", {{"root", "/a"}, {"siteId", 0}}),
       {s + "spec.siteId: must be at least 1, got 0"}},
      {withSpec("Site", {{"root", "/a"}, {"ssl", {{"clientCertificate", "Maybe"}}}}),
       {s + "spec.ssl.clientCertificate: must be one of \"Ignore\", \"Accept\", \"Require\", got "
            "\"Maybe\""}},
      {withSpec("Site", {{"root", "/a"}, {"ssl", {{"clientCertificate", "Require"}}}}),
       {s + "spec.ssl.clientCARefs: is required when clientCertificate is Require"}},
      {withSpec("Site", {{"root", "/a"},
                         {"ssl",
                          {{"clientCertificate", "Accept"},
                           {"clientCARefs", {{{"name", "ca"}}, {{"name", "Bad_CA"}}}}}}}),
       {s + "spec.ssl.clientCARefs[1].name: " + dns1123 + ", got \"Bad_CA\""}},
      {withSpec("Site", {{"root", "/a"}, {"ssl", {{"minTLSVersion", "1.1"}}}}),
       {s + "spec.ssl.minTLSVersion: must be \"1.2\" or \"1.3\", got \"1.1\""}},
      {withSpec("Site", {{"root", "/a"}, {"ssl", {{"minTLSVersion", 1.3}}}}),
       {s + "spec.ssl.minTLSVersion: must be the string \"1.2\" or \"1.3\" (quote it), got number "
            "1.3"}},
      {withSpec("Site", {{"root", "/a"}, {"ssl", {{"redirectHTTP", true}}}}),
       {s + "spec.ssl.redirectHTTP: requires requireSSL: true"}},
      {withSpec("Site", {{"root", "/a"}, {"ssl", {{"requireSSL", "yes"}}}}),
       {s + "spec.ssl.requireSSL: must be a boolean (true or false), got string \"yes\""}},
      {withSpec("Site", {{"root", "/a"}, {"ssl", {{"requiressl", true}}}}),
       {s + "spec.ssl.requiressl: unknown field; did you mean \"requireSSL\"?"}},
      // Certificate
      {withSpec("Certificate", {{"commonName", "a"}}),
       {c + "spec: one of issuerRef or source is required"}},
      {withSpec("Certificate", {{"issuerRef", {{"name", "ca"}}}}),
       {c +
        "spec: at least one of commonName, dnsNames or ipAddresses is required with issuerRef"}},
      {withSpec("Certificate", {{"commonName", "a"},
                                {"issuerRef", {{"name", "ca"}}},
                                {"source", {{"pkcs12File", "a.p12"}}}}),
       {c +
        "spec.source: cannot be set together with issuerRef; a Certificate is issued or imported"}},
      {withSpec("Certificate",
                {{"source", {{"pkcs12File", "a.p12"}, {"certificateFile", "a.crt"}}}}),
       {c + "spec.source.pkcs12File: cannot be set together with certificateFile/privateKeyFile"}},
      {withSpec("Certificate", {{"source", {{"certificateFile", "a.crt"}}}}),
       {c + "spec.source.privateKeyFile: is required with certificateFile"}},
      {withSpec("Certificate", {{"source", nlohmann::json::object()}}),
       {c + "spec.source: one of certificateFile + privateKeyFile, pkcs12File or secretName is "
            "required"}},
      {withSpec("Certificate",
                {{"commonName", "a"}, {"issuerRef", {{"name", "ca"}}}, {"duration", "3 months"}}),
       {c + "spec.duration: must be a duration such as \"90d\", \"2160h\", \"30m\" or \"1h30m\", "
            "got \"3 months\""}},
      {withSpec("Certificate", {{"commonName", "a"},
                                {"issuerRef", {{"name", "ca"}}},
                                {"duration", "24h"},
                                {"renewBefore", "1d"}}),
       {c + "spec.renewBefore: must be less than duration (24h), got 24h"}},
      {withSpec("Certificate", {{"commonName", "a"},
                                {"issuerRef", {{"name", "ca"}}},
                                {"privateKey", {{"algorithm", "RSA"}, {"size", 1024}}}}),
       {c + "spec.privateKey.size: must be 2048, 3072 or 4096 for RSA, got 1024"}},
      {withSpec(
           "Certificate",
           {{"commonName", "a"}, {"issuerRef", {{"name", "ca"}}}, {"privateKey", {{"size", 521}}}}),
       {c + "spec.privateKey.size: must be 256 or 384 for ECDSA, got 521"}},
      {withSpec("Certificate", {{"commonName", "a"},
                                {"issuerRef", {{"name", "ca"}}},
                                {"privateKey", {{"algorithm", "Ed25519"}, {"size", 256}}}}),
       {c + "spec.privateKey.size: must not be set for Ed25519 (its size is fixed)"}},
      {withSpec("Certificate", {{"commonName", "a"},
                                {"issuerRef", {{"name", "ca"}}},
                                {"privateKey", {{"algorithm", "DSA"}}}}),
       {c +
        "spec.privateKey.algorithm: must be one of \"ECDSA\", \"RSA\", \"Ed25519\", got \"DSA\""}},
      {withSpec("Certificate", {{"commonName", "a"},
                                {"issuerRef", {{"name", "ca"}}},
                                {"usages", {"server auth", "code signing", "server auth"}}}),
       {c + "spec.usages[1]: must be one of \"digital signature\", \"key encipherment\", \"server "
            "auth\", \"client auth\", \"cert sign\", \"crl sign\", got \"code signing\"",
        c + "spec.usages[2]: duplicate usage \"server auth\""}},
      {withSpec("Certificate", {{"dnsNames", {"ok.com", 7}}, {"issuerRef", {{"name", "ca"}}}}),
       {c + "spec.dnsNames[1]: must be a string, got integer"}},
      {withSpec("Certificate",
                {{"ipAddresses", {"10.0.0.1", "10.0.0"}}, {"issuerRef", {{"name", "ca"}}}}),
       {c + "spec.ipAddresses[1]: must be an IPv4 or IPv6 address, got \"10.0.0\""}},
      {withSpec("Certificate",
                {{"commonName", "a"}, {"issuerRef", {{"name", "ca"}, {"kind", "ClusterIssuer"}}}}),
       {c + "spec.issuerRef.kind: must be \"Issuer\", got \"ClusterIssuer\""}},
      // Issuer
      {withSpec("Issuer", nlohmann::json::object()),
       {i + "spec: exactly one of selfSigned, ca or acme is required"}},
      {withSpec("Issuer", {{"selfSigned", nlohmann::json::object()},
                           {"ca", {{"certificateRef", {{"name", "ca"}}}}}}),
       {i + "spec.ca: cannot be set together with selfSigned; an Issuer has exactly one of "
            "selfSigned, ca or acme"}},
      {withSpec("Issuer", {{"acme", {{"server", "http://acme.test/directory"}}}}),
       {i + "spec.acme.server: must be an https URL, got \"http://acme.test/directory\""}},
      {withSpec("Issuer", {{"acme", {{"email", "ops@example.com"}}}}),
       {i + "spec.acme.server: is required"}},
      {withSpec("Issuer", {{"ca", nlohmann::json::object()}}),
       {i + "spec.ca.certificateRef: is required"}},
      {withSpec("Issuer", {{"selfSigned", true}}),
       {i + "spec.selfSigned: must be an object, got boolean"}},
      // Envelope and metadata
      {withSpec("Site", kSite, "Contoso_Web"),
       {"Site \"Contoso_Web\" metadata.name: " + dns1123 + ", got \"Contoso_Web\""}},
      {patched(withSpec("Site", kSite), {{"apiVersion", "v1"}}),
       {s + "apiVersion: must be \"siteplane.io/v1alpha1\", got \"v1\""}},
      {patched(withSpec("Site", kSite), {{"kind", "Website"}}),
       {"kind: unknown kind \"Website\" (supported kinds: Binding, Certificate, Issuer, Site)"}},
      {patched(withSpec("Site", kSite), {{"kind", "site"}}),
       {"kind: unknown kind \"site\"; did you mean \"Site\"? (supported kinds: Binding, "
        "Certificate, Issuer, Site)"}},
      {patched(withSpec("Site", kSite), {{"metadata", {{"name", nullptr}}}}),
       {"Site metadata.name: is required"}},
      {patched(withSpec("Site", kSite), {{"metadata", {{"labels", {{"tier", 1}}}}}}),
       {s + "metadata.labels.tier: must be a string, got integer"}},
      {patched(withSpec("Site", kSite),
               {{"metadata", {{"labels", {{"app.kubernetes.io/name", "a b"}}}}}}),
       {s +
        "metadata.labels[app.kubernetes.io/name]: label value must be empty or at most 63 letters, "
        "digits, '-', '_' or '.', starting and ending with a letter or digit, got \"a b\""}},
      {patched(withSpec("Site", kSite), {{"metadata", {{"namespace", "Prod"}}}}),
       {s + "metadata.namespace: " + dns1123 + ", got \"Prod\""}},
      {patched(withSpec("Site", kSite), {{"metadata", {{"creationTimestamp", "yesterday"}}}}),
       {s + "metadata.creationTimestamp: must be an RFC 3339 time such as "
            "\"2026-01-02T15:04:05Z\", got \"yesterday\""}},
      {patched(withSpec("Site", kSite), {{"spec", nullptr}}), {s + "spec: is required"}},
      {patched(withSpec("Site", kSite), {{"sepc", {{"root", "/a"}}}}),
       {s + "sepc: unknown field; did you mean \"spec\"?"}},
      {patched(withSpec("Site", kSite), {{"status",
                                          {{"conditions",
                                            {{{"type", "Ready"},
                                              {"status", "Yes"},
                                              {"lastTransitionTime", "2026-01-02T15:04:05Z"}}}}}}}),
       {s + "status.conditions[0].status: must be one of \"True\", \"False\", \"Unknown\", got "
            "\"Yes\""}},
      {nlohmann::json::array(),
       {"a document must be an object with apiVersion, kind, metadata and spec, got list"}},
  };
  for (const auto& test : cases) {
    INFO(test.document.dump());
    CHECK(errorsOf(test.document) == test.errors);
  }
}

TEST_CASE("decodeObject reports every error of an object, not only the first",
          "[controller][api]") {
  auto errors = errorsOf(withSpec("Binding", {{"siteRef", {{"name", "web"}}},
                                              {"protocol", "https"},
                                              {"port", 70000},
                                              {"address", "nowhere"},
                                              {"extra", 1}}));
  CHECK(errors.size() == 4);
}

TEST_CASE("decodeObject places errors at file:line:column from the position map",
          "[controller][api]") {
  PositionMap positions;
  positions[""] = {{1, 1}, {1, 1}};
  positions["/spec"] = {{10, 1}, {11, 3}};
  positions["/spec/port"] = {{14, 5}, {14, 11}};
  positions["/spec/prot"] = {{15, 5}, {15, 11}};
  DecodeOptions options;
  options.file = "manifests/contoso.yaml";
  options.positions = &positions;
  auto spec = patched(kHttpsBinding, {{"port", 70000}, {"prot", 1}, {"certificateRef", nullptr}});
  auto result = decodeObject(withSpec("Binding", spec, "contoso-https"), options);
  std::vector<std::string> rendered;
  for (const auto& diagnostic : result.diagnostics) rendered.push_back(diagnostic.toString());
  CHECK(rendered ==
        std::vector<std::string>{
            "manifests/contoso.yaml:11:3: Binding \"contoso-https\" spec.certificateRef: "
            "is required when protocol is https",
            "manifests/contoso.yaml:14:11: Binding \"contoso-https\" spec.port: must be "
            "between 1 and 65535, got 70000",
            "manifests/contoso.yaml:15:5: Binding \"contoso-https\" spec.prot: unknown field; did "
            "you mean \"port\"?",
        });
}

TEST_CASE("encodeObject round-trips every kind", "[controller][api]") {
  std::vector<nlohmann::json> documents = {
      withSpec("Site", {{"root", "/srv"},
                        {"siteId", 3},
                        {"ssl",
                         {{"requireSSL", true},
                          {"redirectHTTP", true},
                          {"clientCertificate", "Require"},
                          {"clientCARefs", {{{"name", "ca"}}}},
                          {"minTLSVersion", "1.3"}}}}),
      withSpec("Site", {{"upstream", "http://[::1]:8080"}}),
      withSpec("Binding", patched(kHttpsBinding,
                                  {{"address", "::1"}, {"port", 8443}, {"hostName", "*.a.com"}})),
      withSpec("Binding",
               patched(kHttpsBinding, {{"bindingInformation", "*:443:www.contoso.com"}})),
      withSpec("Certificate", {{"commonName", "a"},
                               {"dnsNames", {"a.com"}},
                               {"ipAddresses", {"127.0.0.1"}},
                               {"duration", "1h30m"},
                               {"privateKey", {{"algorithm", "Ed25519"}}},
                               {"usages", {"client auth"}},
                               {"issuerRef", {{"name", "ca"}}}}),
      withSpec("Certificate",
               {{"source", {{"pkcs12File", "/a.p12"}, {"pkcs12PasswordFile", "/a.pass"}}}}),
      withSpec("Issuer", {{"acme", {{"server", "https://acme.test/dir"}, {"email", "a@b.c"}}}}),
      withSpec("Issuer", {{"ca", {{"certificateRef", {{"name", "root"}}}}}}),
      patched(withSpec("Issuer", {{"selfSigned", nlohmann::json::object()}}),
              {{"metadata",
                {{"namespace", "prod"},
                 {"labels", {{"app", "web"}}},
                 {"generation", 4},
                 {"resourceVersion", "17"},
                 {"uid", "u-1"},
                 {"creationTimestamp", "2026-11-25T06:39:51Z"}}},
               {"status",
                {{"conditions",
                  {{{"type", "Ready"},
                    {"status", "True"},
                    {"reason", "Ready"},
                    {"message", "ok"},
                    {"lastTransitionTime", "2026-11-25T06:40:00Z"},
                    {"observedGeneration", 4}}}}}}}),
  };
  for (const auto& document : documents) {
    INFO(document.dump());
    auto first = decodeObject(document);
    REQUIRE(first.ok());
    auto encoded = encodeObject(*first.object);
    auto second = decodeObject(encoded);
    REQUIRE(second.ok());
    CHECK(*second.object == *first.object);
    CHECK(encodeObject(*second.object) == encoded);
    CHECK(validate(*first.object).empty());
  }
}

TEST_CASE("validate reports rule violations of objects built in code", "[controller][api]") {
  Binding binding;
  binding.metadata.name = "b";
  binding.spec.siteRef.name = "web";
  binding.spec.protocol = Protocol::kHttps;
  binding.spec.port = 443;
  auto errors = validate(binding);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path.toString() == "spec.certificateRef");
  CHECK(errors[0].message == "is required when protocol is https");
}

}  // namespace siteplane::api

namespace siteplane::api {

// Objects written through the API come back from the store with server-side apply's
// managedFields and other server-maintained metadata; the controller must still decode them.
TEST_CASE("decodeObject accepts the metadata the API server maintains", "[controller][api]") {
  auto document = withSpec("Binding", kHttpsBinding, "web-https");
  document["metadata"]["managedFields"] =
      nlohmann::json::array({{{"manager", "kubectl"},
                              {"operation", "Apply"},
                              {"fieldsType", "FieldsV1"},
                              {"fieldsV1", {{"f:spec", {{"f:port", nlohmann::json::object()}}}}}}});
  document["metadata"]["finalizers"] = nlohmann::json::array({"siteplane.io/cleanup"});
  REQUIRE(errorsOf(document).empty());

  document["metadata"]["managedField"] = nlohmann::json::array();
  CHECK(errorsOf(document) ==
        std::vector<std::string>{"Binding \"web-https\" metadata.managedField: unknown field; did "
                                 "you mean \"managedFields\"?"});
}

TEST_CASE("decodeObject marks the errors of unknown fields, and only those", "[controller][api]") {
  auto result = decodeObject(withSpec(
      "Binding", patched(kHttpsBinding, {{"siteRef", {{"name", nullptr}, {"nam", "web"}}}}),
      "web-https"));
  REQUIRE(result.errors.size() == 2);
  CHECK(result.errors[0].path.toString() == "spec.siteRef.name");
  CHECK_FALSE(result.errors[0].unknownField);
  CHECK(result.errors[1].path.toString() == "spec.siteRef.nam");
  CHECK(result.errors[1].unknownField);
  CHECK(result.errors[1].atKey);
}

}  // namespace siteplane::api

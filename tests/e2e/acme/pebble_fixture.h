#pragma once

// Debian's pebble (an ACME test CA) and pebble-challtestsrv (its DNS) on loopback, with real
// validation: the VA resolves every name to 127.0.0.1 through challtestsrv and dials the ports
// the test gives it, where siteplane serves the challenges. Every start makes a new CA; its root
// comes from pebble's management API.

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace siteplane::testing {

struct PebbleOptions {
  int httpPort = 0;  // where the VA dials http-01 (siteplane's http binding)
  int tlsPort = 0;   // where it dials tls-alpn-01
  int nonceRejectPercent = 0;
  // External account binding required, with this key id and base64url HMAC key ("" : none).
  std::string eabKeyId = "";
  std::string eabHmacKey = "";
  // Lifetime of issued certificates in seconds (0: pebble's five years).
  int validitySeconds = 0;
  // The VA sleeps up to this many seconds before validating (0: not at all).
  int vaSleepSeconds = 0;
  // The DNS server the VA asks ("127.0.0.1:PORT"); "" : pebble-challtestsrv, which resolves
  // every name to 127.0.0.1.
  std::string dnsServer = "";
  // Extra chains pebble offers (Link rel="alternate"), each to a root of its own.
  int alternateRoots = 0;
};

class Pebble {
 public:
  explicit Pebble(PebbleOptions options) : options_(options) {
    listenerCertificate();
    dnsPort_ = freePort();
    dnsManagementPort_ = freePort();
    port_ = freePort();
    managementPort_ = freePort();
    challtestsrv_ = std::make_unique<Process>(std::vector<std::string>{
        "pebble-challtestsrv", "-dns01", fmt::format("127.0.0.1:{}", dnsPort_), "-management",
        fmt::format("127.0.0.1:{}", dnsManagementPort_), "-http01", "", "-https01", "",
        "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""});
    const std::string config = fmt::format(
        R"({{"pebble": {{"listenAddress": "127.0.0.1:{}", "managementListenAddress": "127.0.0.1:{}",
        "certificate": "{}", "privateKey": "{}", "httpPort": {}, "tlsPort": {},
        "ocspResponderURL": "", "externalAccountBindingRequired": {},
        "certificateValidityPeriod": {}, "externalAccountMACKeys": {{{}}}}}}})",
        port_, managementPort_, (dir_.path() / "cert.pem").string(),
        (dir_.path() / "key.pem").string(), options_.httpPort, options_.tlsPort,
        options_.eabKeyId.empty() ? "false" : "true", options_.validitySeconds,
        options_.eabKeyId.empty()
            ? std::string()
            : fmt::format(R"("{}": "{}")", options_.eabKeyId, options_.eabHmacKey));
    const auto configPath = dir_.write("pebble.json", config);
    pebble_ = std::make_unique<Process>(std::vector<std::string>{
        "env",
        options_.vaSleepSeconds > 0 ? fmt::format("PEBBLE_VA_SLEEPTIME={}", options_.vaSleepSeconds)
                                    : std::string("PEBBLE_VA_NOSLEEP=1"),
        "PEBBLE_VA_ALWAYS_VALID=0",
        fmt::format("PEBBLE_ALTERNATE_ROOTS={}", options_.alternateRoots),
        fmt::format("PEBBLE_WFE_NONCEREJECT={}", options_.nonceRejectPercent),
        "PEBBLE_AUTHZREUSE=0", "pebble", "-config", configPath.string(), "-dnsserver",
        options_.dnsServer.empty() ? fmt::format("127.0.0.1:{}", dnsPort_) : options_.dnsServer,
        "-strict=false"});
    // "Listening on" is logged before the bind: wait for the directory to answer.
    for (int i = 0; i < 100 && !ready(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    root_ = run({"curl", "-sf", "--cacert", listenerCa(),
                 fmt::format("https://127.0.0.1:{}/roots/0", managementPort_)})
                .out;
  }

  // The PEM of root `index` (0: the default chain's), from the management API.
  std::string rootPem(int index) const {
    return run({"curl", "-sf", "--cacert", listenerCa(),
                fmt::format("https://127.0.0.1:{}/roots/{}", managementPort_, index)})
        .out;
  }
  std::string directoryUrl() const { return fmt::format("https://127.0.0.1:{}/dir", port_); }
  // The CA of pebble's own listeners, the Issuer's caBundle.
  std::string listenerCaPem() const { return readFile(dir_.path() / "ca.pem"); }
  std::string listenerCa() const { return (dir_.path() / "ca.pem").string(); }
  // The root that issued certificates chain to (PEM), and a file holding it.
  const std::string& rootPem() const { return root_; }
  std::string rootFile() const { return dir_.write("root.pem", root_).string(); }
  std::string log() const { return pebble_->output(); }
  // How many times pebble logged `needle` ("Issued certificate serial", "Added order").
  int count(const std::string& needle) const {
    const std::string text = log();
    int found = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
      ++found;
    return found;
  }
  // Points `host` at `address` in challtestsrv's DNS (the VA then dials there).
  void addA(const std::string& host, const std::string& address) const {
    run({"curl", "-sf", "-d", fmt::format(R"({{"host":"{}","addresses":["{}"]}})", host, address),
         fmt::format("http://127.0.0.1:{}/add-a", dnsManagementPort_)});
  }

 private:
  static std::string readFile(const std::filesystem::path& path) {
    return run({"cat", path.string()}).out;
  }
  bool ready() const {
    return run({"curl", "-sf", "--cacert", listenerCa(), directoryUrl()}).exitCode == 0;
  }
  void listenerCertificate() {
    const std::string d = dir_.path().string();
    run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "30", "-subj", "/CN=pebble listener CA", "-keyout", d + "/ca.key",
         "-out", d + "/ca.pem"});
    run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=localhost", "-keyout", d + "/key.pem", "-out", d + "/srv.csr"});
    dir_.write("ext.cnf",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
               "extendedKeyUsage=serverAuth\n");
    run({"openssl", "x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey",
         d + "/ca.key", "-CAcreateserial", "-days", "30", "-extfile", d + "/ext.cnf", "-out",
         d + "/cert.pem"});
  }

  PebbleOptions options_;
  TempDir dir_;
  int dnsPort_ = 0, dnsManagementPort_ = 0, port_ = 0, managementPort_ = 0;
  std::unique_ptr<Process> challtestsrv_;
  std::unique_ptr<Process> pebble_;
  std::string root_;
};

// BIND 9 on loopback as the primary server of one zone, updatable with a TSIG key (RFC 2136):
// where a dns-01 solver adds its records and pebble's VA looks them up.
class Bind {
 public:
  explicit Bind(const std::string& zone) : zone_(zone), port_(freePort()) {
    const std::string d = dir_.path().string();
    auto key = run({"tsig-keygen", "-a", "hmac-sha256", "acme-test-key"});
    dir_.write("tsig.key", key.out);
    const size_t quote = key.out.find("secret \"");
    secret_ = key.out.substr(quote + 8, key.out.find('"', quote + 8) - quote - 8);
    dir_.write("zone.db", "$TTL 60\n@ IN SOA ns1." + zone + ". hostmaster." + zone +
                              ". 1 60 60 600 60\n@ IN NS ns1." + zone +
                              ".\nns1 IN A 127.0.0.1\n@ IN A 127.0.0.1\n* IN A 127.0.0.1\n");
    dir_.write("named.conf", fmt::format(R"(include "{0}/tsig.key";
options {{ directory "{0}"; pid-file "{0}/named.pid"; listen-on port {1} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }}; recursion no; allow-query {{ 127.0.0.1; }}; dnssec-validation no; }};
controls {{ }};
zone "{2}" {{ type primary; file "{0}/zone.db"; allow-update {{ key "acme-test-key"; }}; }};
)",
                                         d, port_, zone));
    std::vector<std::string> argv{"named", "-g", "-c", d + "/named.conf"};
    if (geteuid() == 0) argv.insert(argv.end(), {"-u", "root"});
    named_ = std::make_unique<Process>(argv);
    named_->waitForOutput("running", std::chrono::seconds(20));
  }
  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }
  const std::string& secret() const { return secret_; }
  std::string log() const { return named_->output(); }
  // The TXT values of `name` (dig +short), one per line.
  std::string txt(const std::string& name) const {
    return run({"dig", "+short", "@127.0.0.1", "-p", std::to_string(port_), name, "TXT"}).out;
  }

 private:
  TempDir dir_;
  std::string zone_;
  int port_;
  std::string secret_;
  std::unique_ptr<Process> named_;
};

// An ACME Issuer for `pebble`, `solvers` as YAML lines under spec.acme (default: http01: {}).
inline std::string acmeIssuerYaml(const std::string& name, const Pebble& pebble,
                                  const std::string& solvers = "    http01: {}\n") {
  std::string bundle;
  std::string pem = pebble.listenerCaPem();
  for (size_t start = 0; start < pem.size();) {
    size_t end = pem.find('\n', start);
    if (end == std::string::npos) end = pem.size();
    bundle += "      " + pem.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return "apiVersion: siteplane.io/v1alpha1\nkind: Issuer\nmetadata:\n  name: " + name +
         "\nspec:\n  acme:\n    server: " + pebble.directoryUrl() +
         "\n    email: ops@acme.test\n    caBundle: |\n" + bundle + solvers;
}

}  // namespace siteplane::testing

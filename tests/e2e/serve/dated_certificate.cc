#include <fstream>
#include <stdexcept>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {

TestCertificate makeDatedCertificate(const std::filesystem::path& dir, const std::string& name,
                                     const std::vector<std::string>& dnsNames,
                                     const TestCertificate* ca, const std::string& notBefore,
                                     const std::string& notAfter, bool isCA) {
  namespace fs = std::filesystem;
  TestCertificate out{dir / (name + ".crt"), dir / (name + ".key"), ""};
  // `openssl ca` keeps a database and a serial file; each certificate gets its own.
  fs::path work = dir / ("." + name + ".ca");
  fs::create_directories(work);
  std::ofstream(work / "index.txt").flush();
  std::ofstream(work / "serial") << "1000\n";
  std::string extensions = isCA ? "basicConstraints=critical,CA:TRUE\n"
                                  "keyUsage=critical,keyCertSign,cRLSign\n"
                                : "basicConstraints=critical,CA:FALSE\n"
                                  "extendedKeyUsage=serverAuth\n";
  std::string san;
  for (const auto& dns : dnsNames) san += (san.empty() ? "DNS:" : ",DNS:") + dns;
  if (!san.empty()) extensions += "subjectAltName=" + san + "\n";
  std::ofstream(work / "ca.cnf") << "[ca]\ndefault_ca = dated\n[dated]\ndatabase = "
                                 << (work / "index.txt").string()
                                 << "\nnew_certs_dir = " << work.string()
                                 << "\nserial = " << (work / "serial").string()
                                 << "\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                                    "x509_extensions = extensions\n[any]\ncommonName = supplied\n"
                                    "[extensions]\n"
                                 << extensions;
  std::string subject = "/CN=" + (dnsNames.empty() ? name : dnsNames.front());
  auto request = run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes", "-keyout", out.key.string(), "-out",
                      (work / "request.csr").string(), "-subj", subject});
  if (request.exitCode != 0) throw std::runtime_error("openssl req failed: " + request.err);
  std::vector<std::string> argv = {"openssl",    "ca",
                                   "-batch",     "-notext",
                                   "-config",    (work / "ca.cnf").string(),
                                   "-in",        (work / "request.csr").string(),
                                   "-out",       out.cert.string(),
                                   "-startdate", notBefore,
                                   "-enddate",   notAfter};
  if (ca) {
    argv.insert(argv.end(), {"-cert", ca->cert.string(), "-keyfile", ca->key.string()});
  } else {
    argv.insert(argv.end(), {"-selfsign", "-keyfile", out.key.string()});
  }
  auto issued = run(argv);
  if (issued.exitCode != 0) throw std::runtime_error("openssl ca failed: " + issued.err);
  fs::remove_all(work);
  out.thumbprint = factsOf(readFile(out.cert)).thumbprint;
  return out;
}

}  // namespace siteplane::testing

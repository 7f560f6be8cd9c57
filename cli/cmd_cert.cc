#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "cli/api_command.h"
#include "cli/commands.h"
#include "controller/api/duration.h"
#include "controller/certs/certificate_import.h"
#include "controller/certs/certificate_request.h"
#include "controller/certs/certificate_template.h"
#include "controller/certs/issuance.h"
#include "controller/certs/private_key.h"
#include "controller/manifest/yaml_document.h"

namespace siteplane::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct SubjectOptions {
  std::string commonName;
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;
  std::string keyAlgorithm = "ECDSA";
  int keySize = 0;
  std::vector<std::string> usages;
  bool isCA = false;
};

struct SelfSignedOptions {
  SubjectOptions subject;
  std::string duration = "2160h";
  std::string certOut;
  std::string keyOut;
};

struct RequestOptions {
  SubjectOptions subject;
  std::string csrOut;
  std::string keyOut;
};

struct ImportOptions {
  ApiOptions api;
  std::string name;
  std::string certificateFile;
  std::string privateKeyFile;
  std::string pkcs12File;
  std::string pkcs12PasswordFile;
  bool apply = false;
};

void addSubjectOptions(CLI::App& command, SubjectOptions& options) {
  command.add_option("--common-name,--cn", options.commonName, "Subject common name");
  command.add_option("--dns-name", options.dnsNames, "subjectAltName DNS name (repeatable)");
  command.add_option("--ip-address", options.ipAddresses, "subjectAltName IP (repeatable)");
  command.add_option("--key-algorithm", options.keyAlgorithm, "ECDSA, RSA or Ed25519")
      ->check(CLI::IsMember({"ECDSA", "RSA", "Ed25519"}))
      ->capture_default_str();
  command.add_option("--key-size", options.keySize,
                     "ECDSA 256|384 (default 256), RSA 2048|3072|4096 (default 2048)");
  command.add_option("--usage", options.usages,
                     "Key usage (repeatable): \"digital signature\", \"server auth\", ...");
  command.add_flag("--is-ca", options.isCA, "Make a CA certificate (adds \"cert sign\")");
}

Result<certs::CertificateTemplate> makeTemplate(const SubjectOptions& options) {
  using R = Result<certs::CertificateTemplate>;
  certs::CertificateTemplate request;
  request.commonName = options.commonName;
  request.dnsNames = options.dnsNames;
  request.ipAddresses = options.ipAddresses;
  request.isCA = options.isCA;
  for (const auto& name : options.usages) {
    auto usage = certs::parseUsage(name);
    if (!usage) return R::error("--usage: unknown usage \"" + name + "\"");
    request.usages.push_back(*usage);
  }
  if (request.commonName.empty() && request.dnsNames.empty() && request.ipAddresses.empty()) {
    return R::error("give at least one of --common-name, --dns-name, --ip-address");
  }
  return request;
}

Result<certs::PrivateKey> makeKey(const SubjectOptions& options) {
  auto algorithm = certs::parseKeyAlgorithm(options.keyAlgorithm);
  if (!algorithm) return Result<certs::PrivateKey>::error("unknown --key-algorithm");
  if (options.keySize != 0) {
    if (auto valid = certs::validateKeySize(*algorithm, options.keySize); !valid) {
      return Result<certs::PrivateKey>::error("--key-size: " + valid.message());
    }
  }
  return certs::PrivateKey::generate(*algorithm, options.keySize);
}

// Writes a file that must not already exist; keys get mode 0600 from the start.
Status writeNewFile(const fs::path& path, const std::string& content, bool secret) {
  if (fs::exists(path)) return Status::error(path.string() + " already exists; not overwriting it");
  mode_t previous = ::umask(secret ? 077 : 022);
  std::ofstream out(path, std::ios::binary);
  out << content;
  out.close();
  ::umask(previous);
  if (!out) return Status::error("cannot write " + path.string());
  return Status::ok();
}

int createSelfSigned(const SelfSignedOptions& options) {
  auto request = makeTemplate(options.subject);
  if (!request) return failWith(request.message());
  auto duration = api::parseDuration(options.duration);
  if (!duration) return failWith("--duration: " + duration.message());
  request->validFor(std::chrono::system_clock::now(), *duration);
  auto key = makeKey(options.subject);
  if (!key) return failWith(key.message());
  auto certificate = certs::issueSelfSigned(*request, *key);
  if (!certificate) return failWith(certificate.message());
  if (auto written = writeNewFile(options.keyOut, key->toPem(), true); !written) {
    return failWith(written.message());
  }
  if (auto written = writeNewFile(options.certOut, certificate->toPem(), false); !written) {
    return failWith(written.message());
  }
  std::cout << "wrote " << options.certOut << " and " << options.keyOut << " (thumbprint "
            << certificate->thumbprint() << ")\n";
  return kExitOk;
}

int createRequest(const RequestOptions& options) {
  auto request = makeTemplate(options.subject);
  if (!request) return failWith(request.message());
  auto key = makeKey(options.subject);
  if (!key) return failWith(key.message());
  auto csr = certs::createCertificateRequest(*request, *key);
  if (!csr) return failWith(csr.message());
  if (auto written = writeNewFile(options.keyOut, key->toPem(), true); !written) {
    return failWith(written.message());
  }
  if (auto written = writeNewFile(options.csrOut, *csr, false); !written) {
    return failWith(written.message());
  }
  std::cout << "wrote " << options.csrOut << " and " << options.keyOut
            << "; send the request to your CA, then `siteplane cert import`\n";
  return kExitOk;
}

std::string absolute(const std::string& path) {
  std::error_code error;
  fs::path resolved = fs::weakly_canonical(path, error);
  return error ? fs::absolute(path).string() : resolved.string();
}

int importCertificate(const ImportOptions& options) {
  bool pem = !options.certificateFile.empty() || !options.privateKeyFile.empty();
  bool pkcs12 = !options.pkcs12File.empty();
  if (pem == pkcs12) {
    std::cerr << "error: give either --cert-file and --key-file, or --pkcs12-file\n";
    return kExitUsage;
  }
  if (pem && (options.certificateFile.empty() || options.privateKeyFile.empty())) {
    std::cerr << "error: --cert-file and --key-file go together\n";
    return kExitUsage;
  }
  // Check the material now, so a wrong password or a key that does not match its certificate is
  // reported here rather than later on the object's status.
  json source = json::object();
  Result<certs::CertificateBundle> bundle = Result<certs::CertificateBundle>::error("unset");
  if (pem) {
    bundle = certs::importPemFiles(options.certificateFile, options.privateKeyFile);
    source = {{"certificateFile", absolute(options.certificateFile)},
              {"privateKeyFile", absolute(options.privateKeyFile)}};
  } else {
    std::optional<fs::path> password;
    if (!options.pkcs12PasswordFile.empty()) password = options.pkcs12PasswordFile;
    bundle = certs::importPkcs12File(options.pkcs12File, password);
    source = {{"pkcs12File", absolute(options.pkcs12File)}};
    if (password) source["pkcs12PasswordFile"] = absolute(options.pkcs12PasswordFile);
  }
  if (!bundle) return failWith(bundle.message());
  json object = {{"apiVersion", std::string(kApiGroupVersion)},
                 {"kind", "Certificate"},
                 {"metadata", {{"name", options.name}}},
                 {"spec", {{"source", source}}}};
  if (!options.api.nameSpace.empty()) object["metadata"]["namespace"] = options.api.nameSpace;
  if (!options.apply) {
    std::cout << "# " << bundle->leaf().thumbprint() << "\n" << manifest::emitYaml(object);
    return kExitOk;
  }
  auto client = connectApi(options.api);
  if (!client) return failWith(client.message());
  ResourceType type{"Certificate", "certificates"};
  std::string path =
      ApiClient::resourcePath(type, effectiveNamespace(options.api, **client), options.name) +
      "?fieldManager=" + std::string(kFieldManager) + "&force=true";
  auto result = (*client)->call("PATCH", path, object.dump(), "application/apply-patch+yaml");
  if (!result) return failWith(result.error().message);
  std::cout << objectRef(type, options.name) << " applied (thumbprint "
            << bundle->leaf().thumbprint() << ")\n";
  return kExitOk;
}

}  // namespace

void registerCertCommand(CLI::App& app) {
  auto* cert = app.add_subcommand("cert", "Make keys, certificates and requests; import them");
  cert->require_subcommand(1);

  auto selfSigned = std::make_shared<SelfSignedOptions>();
  auto* create = cert->add_subcommand("create-self-signed",
                                      "Generate a key and a self-signed certificate into files");
  addSubjectOptions(*create, selfSigned->subject);
  create->add_option("--duration", selfSigned->duration, "Validity, e.g. 90d, 2160h")
      ->capture_default_str();
  create->add_option("--cert-out", selfSigned->certOut, "Certificate PEM file to write")
      ->required();
  create->add_option("--key-out", selfSigned->keyOut, "Private key PEM file to write (0600)")
      ->required();
  create->callback([selfSigned] { setExitCode(createSelfSigned(*selfSigned)); });

  auto request = std::make_shared<RequestOptions>();
  auto* csr =
      cert->add_subcommand("request", "Generate a key and a certificate signing request for a CA");
  addSubjectOptions(*csr, request->subject);
  csr->add_option("--csr-out", request->csrOut, "CSR PEM file to write")->required();
  csr->add_option("--key-out", request->keyOut, "Private key PEM file to write (0600)")->required();
  csr->callback([request] { setExitCode(createRequest(*request)); });

  auto imported = std::make_shared<ImportOptions>();
  auto* import = cert->add_subcommand(
      "import",
      "Check PEM or PKCS#12 files and print a Certificate manifest with spec.source (or apply it)");
  import->add_option("--name", imported->name, "metadata.name of the Certificate")->required();
  import->add_option("--cert-file", imported->certificateFile, "PEM certificate (and chain)");
  import->add_option("--key-file", imported->privateKeyFile, "PEM private key");
  import->add_option("--pkcs12-file", imported->pkcs12File, "PKCS#12 (.pfx/.p12) file");
  import->add_option("--pkcs12-password-file", imported->pkcs12PasswordFile,
                     "File holding the PKCS#12 password");
  import->add_flag("--apply", imported->apply,
                   "Apply the Certificate to the API server instead of printing it");
  addApiOptions(*import, imported->api);
  import->callback([imported] { setExitCode(importCertificate(*imported));
});
}  // namespace siteplane::cli

}  // namespace siteplane::cli

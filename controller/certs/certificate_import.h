#pragma once

// Importing existing certificates (Certificate spec.source, `siteplane cert import`, IIS "Import"):
// PEM certificate + PEM key files, or a PKCS#12 (.pfx/.p12) file with an optional password.
//
// Every import orders the chain leaf first and checks that the key matches the leaf. It does not
// refuse an expired or not-yet-valid certificate: that is a status, not a parse error, and the
// reconciler reports it (Ready=False reason Expired) from leaf().validityAt(now).

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "controller/certs/certificate_bundle.h"

namespace siteplane::certs {

// `certificatePem` holds the leaf and any intermediates in any order.
Result<CertificateBundle> importPem(std::string_view certificatePem,
                                    std::string_view privateKeyPem);

// How the file functions below read a file: readSmallFile by default; serve's reconciler passes
// ImportPathPolicy::read, so that every file an import reads obeys the operator's directories.
using FileReader = std::function<Result<std::string>(const std::filesystem::path&)>;

Result<std::string> readSmallFile(const std::filesystem::path& path);

// Errors name the file they are about ("/etc/tls/site.key: the private key is encrypted; ...").
Result<CertificateBundle> importPemFiles(const std::filesystem::path& certificateFile,
                                         const std::filesystem::path& privateKeyFile,
                                         const FileReader& read = readSmallFile);

// `password`: nullopt when none was given; then both an empty password and no password are tried,
// as exporters differ on which they write.
Result<CertificateBundle> importPkcs12(std::string_view der,
                                       const std::optional<std::string>& password);

// The password file's content is the password; one trailing newline ("\n" or "\r\n") is dropped,
// since `echo secret > file` adds one.
Result<CertificateBundle> importPkcs12File(const std::filesystem::path& file,
                                           const std::optional<std::filesystem::path>& passwordFile,
                                           const FileReader& read = readSmallFile);

// readSmallFile reads a whole file (certificates, keys and PKCS#12 files are small: larger than
// 16 MiB is refused). The error names the path.

}  // namespace siteplane::certs

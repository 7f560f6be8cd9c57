#pragma once

// Helpers shared by unit and end-to-end tests: temporary directories, running real commands
// (curl, openssl, kubectl) and supervising the real siteplane binary.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace siteplane::testing {

// Runs `body` on a fresh thread with `stackBytes` of stack (SizedThread) and waits for it: what
// the API server's pool threads run needs their stack, not the test's main thread's. An exception
// `body` throws is rethrown here.
Status runWithStack(size_t stackBytes, const std::function<void()>& body);

// The repository root and the CMake build directory (from SITEPLANE_SOURCE_DIR/BINARY_DIR).
std::filesystem::path sourceDir();
std::filesystem::path binaryDir();

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/relative (creating parent folders) and returns the full path.
  std::filesystem::path write(const std::string& relative, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exitCode = -1;  // -1 when killed by a signal or the timeout
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) to completion, feeding `input` on stdin; kills it after
// `timeout`.
CommandResult run(const std::vector<std::string>& argv, const std::string& input = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The kubectl the tests drive: $SITEPLANE_KUBECTL (ctest sets it, once per kubectl the build
// found: see siteplane_find_kubectls in cmake/Siteplane.cmake), else the one on PATH.
std::string kubectlProgram();
// The minor version of kubectlProgram() (20 for 1.20), for the few flags old clients lack.
int kubectlMinor();

// A background process (typically `siteplane serve ...`) whose stdout+stderr go to a log file.
// Killed with SIGKILL on destruction if still running.
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& extraEnv = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits up to `timeout` for exit; returns the exit status (-1: still running).
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Everything the process has printed so far.
  std::string output() const;
  // Waits until output() contains `needle`; false when `timeout` passes or the process exits first.
  bool waitForOutput(const std::string& needle,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
  int exitStatus_ = -1;
  std::filesystem::path logPath_;
};

// Polls `condition` every 20 ms until it holds or `timeout` passes. Tests assert behaviour, not
// speed: the deadline is generous and only bounds a hang.
bool waitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(20));

// For a connected loopback TCP socket of this process: waits until the application at the other
// end has read everything sent on it (this socket's send queue and the peer socket's receive
// queue are both empty, as /proc/net/tcp and tcp6 show them). Replaces "sleep so the server
// reads it" with the effect itself. False when `timeout` passes first.
bool waitUntilPeerRead(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A TCP port that is free on 127.0.0.1 and 0.0.0.0 and that no other test process of this
// machine gets for the next ten minutes (outside the kernel's ephemeral range; see the .cc).
int freePort();

// Generates with the openssl CLI an ECDSA P-256 key and a certificate for `dnsNames` signed by the
// CA (or self-signed when caCert is empty). Writes <dir>/<name>.key and <dir>/<name>.crt.
struct TestCertificate {
  std::filesystem::path cert;
  std::filesystem::path key;
  std::string thumbprint;  // SHA-1 of the DER certificate, upper-case hex without colons
};
TestCertificate makeCertificate(const std::filesystem::path& dir, const std::string& name,
                                const std::vector<std::string>& dnsNames,
                                const TestCertificate* ca = nullptr, bool isCA = false,
                                const std::string& extraOpensslDays = "30");

std::string readFile(const std::filesystem::path& path);

// A PEM CRL signed by `ca` revoking `revoked`, written to `out` (openssl ca -gencrl with a fresh
// database). `lapsed`: lastUpdate/nextUpdate in 2020, so the CRL is past its nextUpdate.
void makeCrl(const std::filesystem::path& out, const TestCertificate& ca,
             const std::vector<const TestCertificate*>& revoked, bool lapsed = false);

}  // namespace siteplane::testing

#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/sized_thread.h"

extern char** environ;

namespace siteplane::testing {

Status runWithStack(size_t stackBytes, const std::function<void()>& body) {
  std::exception_ptr thrown;
  auto thread = SizedThread::start(stackBytes, [&] {
    try {
      body();
    } catch (...) {
      thrown = std::current_exception();
    }
  });
  if (!thread) return thread.status();
  thread->join();
  if (thrown) std::rethrow_exception(thrown);
  return Status::ok();
}

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The environment can point a test at another tree (e.g. a copied build); by default the paths
// CMake compiled in.
fs::path sourceDir() {
  const char* dir = std::getenv("SITEPLANE_SOURCE_DIR");
  return dir ? fs::path(dir) : fs::path(SITEPLANE_SOURCE_DIR);
}

fs::path binaryDir() {
  const char* dir = std::getenv("SITEPLANE_BINARY_DIR");
  return dir ? fs::path(dir) : fs::path(SITEPLANE_BINARY_DIR);
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "siteplane-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

fs::path TempDir::write(const std::string& relative, const std::string& content) const {
  fs::path full = path_ / relative;
  fs::create_directories(full.parent_path());
  std::ofstream(full, std::ios::binary) << content;
  return full;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

namespace {

std::vector<char*> toArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& arg : argv) out.push_back(const_cast<char*>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

void drain(int fd, std::string& into) {
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) into.append(buffer, static_cast<size_t>(n));
}

}  // namespace

std::string kubectlProgram() {
  const char* kubectl = std::getenv("SITEPLANE_KUBECTL");
  return kubectl && *kubectl ? kubectl : "kubectl";
}

int kubectlMinor() {
  CommandResult version = run({kubectlProgram(), "version", "--client", "-o", "json"});
  size_t at = version.out.find("\"minor\"");
  if (version.exitCode != 0 || at == std::string::npos)
    throw std::runtime_error(kubectlProgram() + " version failed: " + version.err);
  at = version.out.find_first_of("0123456789", at);
  return at == std::string::npos ? 0 : std::atoi(version.out.c_str() + at);
}

CommandResult run(const std::vector<std::string>& argv, const std::string& input,
                  std::chrono::milliseconds timeout) {
  int in[2], out[2], err[2];
  if (pipe(in) || pipe(out) || pipe(err)) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    auto args = toArgv(argv);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Feed stdin from a thread so a child that writes a lot before reading cannot deadlock us.
  std::thread feeder([fd = in[1], &input] {
    signal(SIGPIPE, SIG_IGN);
    size_t done = 0;
    while (done < input.size()) {
      ssize_t n = write(fd, input.data() + done, input.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fd);
  });
  CommandResult result;
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  auto deadline = Clock::now() + timeout;
  bool open[2] = {true, true};
  while (open[0] || open[1]) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 100)));
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[65536];
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<size_t>(n));
      } else if (n == 0) {
        open[i] = false;
      }
    }
  }
  drain(out[0], result.out);
  drain(err[0], result.err);
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  feeder.join();
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Process::Process(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& extraEnv) {
  std::random_device random;
  logPath_ = fs::temp_directory_path() / ("siteplane-process-" + std::to_string(getpid()) + "-" +
                                          std::to_string(random()) + ".log");
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    close(devnull);
    for (const auto& [key, value] : extraEnv) setenv(key.c_str(), value.c_str(), 1);
    auto args = toArgv(argv);
    execvp(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (running()) stop(SIGKILL);
  std::error_code ignored;
  fs::remove(logPath_, ignored);
}

bool Process::running() {
  if (pid_ <= 0 || exitStatus_ != -1) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exitStatus_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Process::stop(int signal, std::chrono::milliseconds timeout) {
  if (!running()) return exitStatus_;
  kill(pid_, signal);
  waitUntil([this] { return !running(); }, timeout);
  return exitStatus_;
}

std::string Process::output() const { return readFile(logPath_); }

bool Process::waitForOutput(const std::string& needle, std::chrono::milliseconds timeout) {
  return waitUntil([&] { return output().find(needle) != std::string::npos || !running(); },
                   timeout) &&
         output().find(needle) != std::string::npos;
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

// The kernel hands out ephemeral ports (port 0, outgoing connections) from
// ip_local_port_range; ports from below that range are never given to anyone implicitly.
std::pair<int, int> testPortRange() {
  int low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int ephemeralLow = 0;
  int ephemeralHigh = 0;
  if (range >> ephemeralLow >> ephemeralHigh && ephemeralLow > 12000) low = ephemeralLow;
  return {low - 10000, low};
}

bool bindable(int port, uint32_t address) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in socketAddress{};
  socketAddress.sin_family = AF_INET;
  socketAddress.sin_addr.s_addr = htonl(address);
  socketAddress.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&socketAddress), sizeof socketAddress) == 0;
  close(fd);
  return ok;
}

}  // namespace

// Why not bind port 0 and release it: until the server under test binds the port, the kernel may
// hand the same ephemeral port to any other process's connect() or bind(0), and parallel ctest
// runs did collide that way. So ports come from just below the ephemeral range, and every test
// process on the machine hands them out through one flock-protected ledger, which remembers each
// port for ten minutes so two tests never get the same one.
namespace {

// "0100007F:1F90" for 127.0.0.1:8080, as /proc/net/tcp writes a local or remote address.
std::string procAddress(const sockaddr_storage& address) {
  char text[64];
  if (address.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    std::snprintf(text, sizeof text, "%08X:%04X", in.sin_addr.s_addr, ntohs(in.sin_port));
    return text;
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
  std::string out;
  for (int word = 0; word < 4; ++word) {
    uint32_t value;
    std::memcpy(&value, in6.sin6_addr.s6_addr + 4 * word, sizeof value);
    std::snprintf(text, sizeof text, "%08X", value);
    out += text;
  }
  std::snprintf(text, sizeof text, ":%04X", ntohs(in6.sin6_port));
  return out + text;
}

// tx_queue or rx_queue of the socket from `local` to `remote`; -1 when no such socket is listed.
long queueOf(const std::string& local, const std::string& remote, bool transmit) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, localField, remoteField, state, queues;
      fields >> slot >> localField >> remoteField >> state >> queues;
      if (localField != local || remoteField != remote) continue;
      size_t colon = queues.find(':');
      if (colon == std::string::npos) return -1;
      return std::stol(transmit ? queues.substr(0, colon) : queues.substr(colon + 1), nullptr, 16);
    }
  }
  return -1;
}

}  // namespace

bool waitUntilPeerRead(int fd, std::chrono::milliseconds timeout) {
  sockaddr_storage mine{}, theirs{};
  socklen_t length = sizeof mine;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&mine), &length) != 0) return false;
  length = sizeof theirs;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&theirs), &length) != 0) return false;
  std::string local = procAddress(mine), remote = procAddress(theirs);
  return waitUntil(
      [&] { return queueOf(local, remote, true) == 0 && queueOf(remote, local, false) == 0; },
      timeout);
}

int freePort() {
  static constexpr int64_t kReservedSeconds = 600;
  auto [low, high] = testPortRange();
  fs::path ledgerPath = fs::temp_directory_path() / "siteplane-test-ports";
  int ledger = open(ledgerPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (ledger < 0) throw std::runtime_error("cannot open " + ledgerPath.string());
  if (flock(ledger, LOCK_EX) != 0) {
    close(ledger);
    throw std::runtime_error("cannot lock " + ledgerPath.string());
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::map<int, int64_t> reserved;  // port -> when it was handed out
  {
    std::ifstream in(ledgerPath);
    int port = 0;
    int64_t when = 0;
    while (in >> port >> when)
      if (now - when < kReservedSeconds) reserved[port] = when;
  }
  std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  int span = high - low;
  int start = static_cast<int>(random() % static_cast<unsigned>(span));
  int chosen = 0;
  for (int i = 0; i < span && chosen == 0; ++i) {
    int port = low + (start + i) % span;
    if (reserved.count(port)) continue;
    if (bindable(port, INADDR_ANY) && bindable(port, INADDR_LOOPBACK)) chosen = port;
  }
  if (chosen != 0) {
    reserved[chosen] = now;
    std::string text;
    for (const auto& [port, when] : reserved)
      text += std::to_string(port) + " " + std::to_string(when) + "\n";
    if (ftruncate(ledger, 0) != 0 || pwrite(ledger, text.data(), text.size(), 0) < 0) chosen = 0;
  }
  flock(ledger, LOCK_UN);
  close(ledger);
  if (chosen == 0) throw std::runtime_error("no free test port in the ledger's range");
  return chosen;
}

TestCertificate makeCertificate(const fs::path& dir, const std::string& name,
                                const std::vector<std::string>& dnsNames, const TestCertificate* ca,
                                bool isCA, const std::string& days) {
  TestCertificate out{dir / (name + ".crt"), dir / (name + ".key"), ""};
  fs::create_directories(dir);
  std::string san;
  for (const auto& dns : dnsNames) {
    if (!san.empty()) san += ',';
    san.append("DNS:").append(dns);
  }
  std::string subject = "/CN=";
  subject.append(dnsNames.empty() ? name : dnsNames.front());
  std::vector<std::string> argv = {"openssl",
                                   "req",
                                   "-x509",
                                   "-newkey",
                                   "ec",
                                   "-pkeyopt",
                                   "ec_paramgen_curve:P-256",
                                   "-nodes",
                                   "-keyout",
                                   out.key.string(),
                                   "-out",
                                   out.cert.string(),
                                   "-days",
                                   days,
                                   "-subj",
                                   subject};
  if (!san.empty()) argv.insert(argv.end(), {"-addext", "subjectAltName=" + san});
  if (isCA) {
    argv.insert(argv.end(), {"-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                             "keyUsage=critical,keyCertSign,cRLSign"});
  } else {
    argv.insert(argv.end(), {"-addext", "basicConstraints=critical,CA:FALSE", "-addext",
                             "extendedKeyUsage=serverAuth,clientAuth"});
  }
  if (ca) argv.insert(argv.end(), {"-CA", ca->cert.string(), "-CAkey", ca->key.string()});
  auto made = run(argv);
  if (made.exitCode != 0) throw std::runtime_error("openssl req failed: " + made.err);
  auto fingerprint =
      run({"openssl", "x509", "-in", out.cert.string(), "-noout", "-fingerprint", "-sha1"});
  // "SHA1 Fingerprint=AB:CD:..." -> "ABCD..."
  auto equals = fingerprint.out.find('=');
  for (char c : fingerprint.out.substr(equals + 1))
    if (std::isxdigit(static_cast<unsigned char>(c)))
      out.thumbprint += static_cast<char>(std::toupper(c));
  return out;
}

void makeCrl(const fs::path& out, const TestCertificate& ca,
             const std::vector<const TestCertificate*>& revoked, bool lapsed) {
  fs::path work = out.parent_path() / (out.filename().string() + ".ca");
  fs::remove_all(work);
  fs::create_directories(work);
  { std::ofstream(work / "index.txt"); }
  {
    std::ofstream config(work / "ca.cnf");
    config << "[ca]\ndefault_ca = crl\n[crl]\ndatabase = " << (work / "index.txt").string()
           << "\ndefault_md = sha256\ndefault_crl_days = 30\n";
  }
  std::vector<std::string> base = {
      "openssl",       "ca",    "-config",       (work / "ca.cnf").string(), "-keyfile",
      ca.key.string(), "-cert", ca.cert.string()};
  for (const TestCertificate* certificate : revoked) {
    auto argv = base;
    argv.insert(argv.end(), {"-revoke", certificate->cert.string()});
    auto done = run(argv);
    if (done.exitCode != 0) throw std::runtime_error("openssl ca -revoke failed: " + done.err);
  }
  auto argv = base;
  argv.insert(argv.end(), {"-gencrl", "-out", (work / "crl.pem").string()});
  if (lapsed)
    argv.insert(argv.end(),
                {"-crl_lastupdate", "20200101000000Z", "-crl_nextupdate", "20200102000000Z"});
  auto done = run(argv);
  if (done.exitCode != 0) throw std::runtime_error("openssl ca -gencrl failed: " + done.err);
  // Renamed into place, so a watcher never reads a half-written CRL.
  fs::rename(work / "crl.pem", out);
}

}  // namespace siteplane::testing

#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace siteplane::testing {
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
  logPath_ = fs::temp_directory_path() /
             ("siteplane-process-" + std::to_string(getpid()) + "-" + std::to_string(random()) + ".log");
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
  return waitUntil([&] { return output().find(needle) != std::string::npos || !running(); }, timeout) &&
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

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
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
  std::vector<std::string> argv = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", out.key.string(),
                                   "-out", out.cert.string(), "-days", days, "-subj", subject};
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
  auto fingerprint = run({"openssl", "x509", "-in", out.cert.string(), "-noout", "-fingerprint", "-sha1"});
  // "SHA1 Fingerprint=AB:CD:..." -> "ABCD..."
  auto equals = fingerprint.out.find('=');
  for (char c : fingerprint.out.substr(equals + 1))
    if (std::isxdigit(static_cast<unsigned char>(c))) out.thumbprint += static_cast<char>(std::toupper(c));
  return out;
}

}  // namespace siteplane::testing

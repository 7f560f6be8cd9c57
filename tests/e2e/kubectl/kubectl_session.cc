#include "tests/e2e/kubectl/kubectl_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <regex>
#include <set>
#include <stdexcept>

namespace siteplane::testing {

namespace fs = std::filesystem;

std::vector<std::string> KubectlSession::kubectlArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {kubectlProgram(), "--kubeconfig",
                                   (server_.state() / "kubeconfig").string(), "--cache-dir",
                                   (server_.dir().path() / "kubecache").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

CommandResult KubectlSession::kubectl(const std::vector<std::string>& args,
                                      std::chrono::milliseconds timeout) const {
  return run(kubectlArgv(args), "", timeout);
}

bool KubectlSession::applyAndWaitProgrammed(const fs::path& manifest, const std::string& binding) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"apply", "-f", manifest.string()},
           {"wait", "--for=condition=Programmed", "binding/" + binding, "--timeout=60s"}}) {
    CommandResult result = kubectl(args);
    if (result.exitCode != 0) {
      std::fprintf(stderr, "kubectl %s failed:\n%s%s\n", args[0].c_str(), result.out.c_str(),
                   result.err.c_str());
      return false;
    }
  }
  return true;
}

std::string KubectlSession::apiUrl() const {
  std::string kubeconfig = readFile(server_.state() / "kubeconfig");
  std::smatch match;
  if (!std::regex_search(kubeconfig, match, std::regex(R"(server:\s*"?(https://[^"\s]+))")))
    throw std::runtime_error("no server in the kubeconfig serve wrote:\n" + kubeconfig);
  return match[1];
}

std::string KubectlSession::token() const {
  std::string token = readFile(server_.state() / "api" / "token");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

KubectlSession::HttpReply KubectlSession::api(const std::string& path,
                                              const std::vector<std::string>& args,
                                              bool withToken) const {
  std::vector<std::string> argv = {"curl",       "-sS",
                                   "--max-time", "30",
                                   "--cacert",   (server_.state() / "api" / "ca.crt").string(),
                                   "-w",         "\n%{http_code}"};
  if (withToken) argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token()});
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(apiUrl() + path);
  CommandResult result = run(argv, "", std::chrono::seconds(40));
  HttpReply reply;
  size_t newline = result.out.rfind('\n');
  if (newline == std::string::npos) return reply;
  reply.body = result.out.substr(0, newline);
  try {
    reply.code = std::stoi(result.out.substr(newline + 1));
  } catch (const std::exception&) {
    reply.code = 0;
  }
  return reply;
}

int ExampleManifests::port(int example) const {
  auto it = ports.find(example);
  if (it == ports.end())
    throw std::runtime_error("the examples use no port " + std::to_string(example));
  return it->second;
}

ExampleManifests copyExampleManifests(const fs::path& to) {
  ExampleManifests out;
  out.dir = to;
  fs::create_directories(to);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(sourceDir() / "manifests"))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      files.push_back(entry.path());
  // The fields `port: 8443` and `bindingInformation: "127.0.0.1:8080:"` / "[::1]:8443:host"
  // (at the start of a line: comments mention ports too).
  const std::regex portField(R"(\n[ \t]*port:[ \t]*(\d+))");
  const std::regex bindingInformation(
      R"re(\n[ \t]*bindingInformation:[ \t]*"?(?:\[[^\]]*\]|[^:"\s]*):(\d+):)re");
  std::map<fs::path, std::string> texts;
  std::set<int> found;
  for (const auto& file : files) {
    std::string text = readFile(file);
    for (const auto* pattern : {&portField, &bindingInformation})
      for (std::sregex_iterator it(text.begin(), text.end(), *pattern), end; it != end; ++it)
        found.insert(std::stoi((*it)[1]));
    texts[file] = std::move(text);
  }
  for (int port : found) out.ports[port] = freePort();
  for (auto& [file, text] : texts) {
    for (const auto& [from, replacement] : out.ports)
      text = std::regex_replace(text, std::regex("\\b" + std::to_string(from) + "\\b"),
                                std::to_string(replacement));
    std::ofstream(to / file.filename()) << text;
  }
  return out;
}

bool portClosed(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
                 errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

}  // namespace siteplane::testing

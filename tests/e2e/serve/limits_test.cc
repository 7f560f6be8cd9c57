// The data-plane limits as `siteplane serve` flags: each one takes effect, and a bad value is
// refused before anything starts, naming the flag.

#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/e2e/serve/serve_fixture.h"

namespace siteplane::testing {
namespace {

// The status code of one raw request on a fresh plain connection ("" when none came).
std::string rawStatus(int port, const std::string& request) {
  auto result = run({"python3", "-c",
                     "import socket,sys\n"
                     "s=socket.create_connection(('127.0.0.1',int(sys.argv[1])),timeout=10)\n"
                     "s.sendall(sys.stdin.buffer.read())\n"
                     "d=b''\n"
                     "while b'\\r\\n' not in d:\n"
                     "  c=s.recv(4096)\n"
                     "  if not c: break\n"
                     "  d+=c\n"
                     "print(d.split(b' ')[1].decode() if d else '')\n",
                     std::to_string(port)},
                    request, seconds(20));
  std::string out = result.out;
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("siteplane serve applies the limits given as flags", "[e2e][serve][limits]") {
  Server server;
  int port = freePort();
  server.write("web.yaml", documents({siteYaml("web", server.root().string()),
                                      bindingYaml("web", "web", "http", port)}));
  server.start({"--max-header-bytes", "1k", "--max-body-bytes", "100",
                "--max-connections-per-address", "2", "--keep-alive-seconds", "600"});
  REQUIRE(waitUntil([&] { return httpGet(port) == "hello from siteplane\n 200"; }, kDeadline));

  SECTION("--max-header-bytes: a head above it gets 431") {
    CHECK(rawStatus(port, "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(1500, 'p') +
                              "\r\n\r\n") == "431");
    CHECK(rawStatus(port, "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(500, 'p') +
                              "\r\n\r\n") == "200");
  }
  SECTION("--max-body-bytes: a body above it gets 413") {
    CHECK(rawStatus(port, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n" +
                              std::string(101, 'b')) == "413");
    // At the limit the body is read and the method is what is refused.
    CHECK(rawStatus(port, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" +
                              std::string(100, 'b')) == "405");
  }
  SECTION("--max-connections-per-address: a third connection from 127.0.0.1 is reset") {
    // Two kept-alive connections hold their places (the keep-alive time is long), a third is
    // closed without an answer, and closing one lets the next in.
    auto result = run(
        {"python3", "-c",
         "import socket,sys\n"
         "port=int(sys.argv[1])\n"
         "def ask(s):\n"
         "  d=b''\n"
         "  try:\n"
         "    s.sendall(b'GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n')\n"
         "    while b'\\r\\n' not in d:\n"
         "      c=s.recv(4096)\n"
         "      if not c: return 'closed'\n"
         "      d+=c\n"
         "  except (ConnectionResetError, BrokenPipeError): return 'reset'\n"
         "  return d.split(b' ')[1].decode()\n"
         "def conn(): return socket.create_connection(('127.0.0.1',port),timeout=10)\n"
         "a=conn(); b=conn()\n"
         "r=[ask(a), ask(b)]\n"
         "r.append(ask(conn()))\n"
         "a.close()\n"
         "import time\n"
         "for _ in range(500):\n"  // bounds a hang; the server frees the place as it sees the close
         "  got=ask(conn())\n"
         "  if got=='200': break\n"
         "  time.sleep(0.02)\n"
         "r.append(got)\n"
         "print(' '.join(r))\n",
         std::to_string(port)},
        "", seconds(30));
    INFO(result.err);
    // The reset may reach the client before or after its request went out.
    CHECK((result.out == "200 200 reset 200\n" || result.out == "200 200 closed 200\n"));
  }
  CHECK(server.process().running());
  CHECK(server.process().stop(SIGTERM) == 0);
}

TEST_CASE("siteplane serve refuses a limit flag out of range, naming the flag",
          "[e2e][serve][limits]") {
  TempDir dir;
  struct Case {
    std::vector<std::string> flag;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--max-header-bytes", "100"}, "--max-header-bytes: Value 100 not in range"},
      {{"--max-header-bytes", "16q"}, "--max-header-bytes: q unit not recognized"},
      {{"--max-body-bytes", "2g"}, "--max-body-bytes: Value 2147483648 not in range"},
      {{"--header-timeout-seconds", "0"}, "--header-timeout-seconds: Value 0 not in range"},
      {{"--keep-alive-seconds", "-1"}, "--keep-alive-seconds: Value -1 not in range"},
      {{"--handshake-timeout-seconds", "soon"}, "--handshake-timeout-seconds"},
      {{"--max-connections-per-worker", "0"}, "--max-connections-per-worker: Value 0 not in range"},
      {{"--max-connections-per-address", "-2"}, "--max-connections-per-address"},
      {{"--binding-drain-seconds", "7200"}, "--binding-drain-seconds: Value 7200 not in range"},
  };
  for (const auto& c : cases) {
    INFO(c.flag[0] << " " << c.flag[1]);
    std::vector<std::string> argv = {siteplaneBinary(), "serve",
                                     "--manifests",     (dir.path() / "m").string(),
                                     "--state",         (dir.path() / "s").string()};
    argv.insert(argv.end(), c.flag.begin(), c.flag.end());
    auto result = run(argv, "", seconds(20));
    CHECK(result.exitCode == 2);
    CHECK(result.err.find(c.message) != std::string::npos);
    // Refused before anything starts: no state directory was created.
    CHECK_FALSE(std::filesystem::exists(dir.path() / "s"));
  }
}

}  // namespace siteplane::testing

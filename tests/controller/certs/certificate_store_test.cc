#include "controller/certs/certificate_store.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/controller/certs/certs_test_helpers.h"

namespace siteplane::certs {
namespace {

using namespace testing;
namespace fs = std::filesystem;

mode_t modeOf(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

CertificateBundle selfSigned(const std::string& host) {
  auto key = valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa));
  auto certificate = valueOf(issueSelfSigned(serverTemplate({host}, nowSeconds()), key));
  return CertificateBundle{{certificate}, key};
}

// Every entry of `dir` whose name starts with '.', i.e. version directories and temporary links.
std::vector<std::string> hiddenEntries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(".")) names.push_back(name);
  }
  return names;
}

}  // namespace

TEST_CASE("CertificateStore stores, replaces, lists and removes bundles", "[controller][certs]") {
  TempDir dir;
  auto store = valueOf(CertificateStore::open(dir.path() / "state" / "certificates"));
  auto hierarchy = makeHierarchy({"www.contoso.com"});

  CHECK(valueOf(store->get("default/web")) == std::nullopt);
  CHECK(valueOf(store->list()).empty());

  requireOk(store->put("default/web", hierarchy.leaf));
  auto stored = valueOf(store->get("default/web"));
  REQUIRE(stored.has_value());
  CHECK(stored->chainPem() == hierarchy.leaf.chainPem());
  CHECK(stored->key.toPem() == hierarchy.leaf.key.toPem());
  CHECK(siteplane::testing::readFile(store->chainPath("default/web")) == hierarchy.leaf.chainPem());
  CHECK(siteplane::testing::readFile(store->keyPath("default/web")) == hierarchy.leaf.key.toPem());

  auto replacement = selfSigned("www.contoso.com");
  requireOk(store->put("default/web", replacement));
  CHECK(valueOf(store->get("default/web"))->leaf() == replacement.leaf());
  // Only the current version is left on disk.
  CHECK(hiddenEntries(store->directory() / "default").size() == 1);

  requireOk(store->put("shop/api", hierarchy.intermediate));
  requireOk(store->put("default/admin", replacement));
  CHECK(valueOf(store->list()) ==
        std::vector<std::string>{"default/admin", "default/web", "shop/api"});

  requireOk(store->remove("default/web"));
  requireOk(store->remove("default/web"));  // already gone: fine
  CHECK(valueOf(store->get("default/web")) == std::nullopt);
  CHECK(valueOf(store->list()) == std::vector<std::string>{"default/admin", "shop/api"});
  CHECK(hiddenEntries(store->directory() / "default").size() == 1);  // admin's version only

  // A second store over the same directory (a restart) sees the same content.
  auto reopened = valueOf(CertificateStore::open(store->directory()));
  CHECK(valueOf(reopened->get("shop/api"))->chainPem() == hierarchy.intermediate.chainPem());
}

TEST_CASE("CertificateStore keeps keys 0600 and directories 0700", "[controller][certs]") {
  TempDir dir;
  auto storeDir = dir.path() / "certificates";
  fs::create_directories(storeDir);
  fs::permissions(storeDir, fs::perms::all);  // made loose by hand: tightened on open
  auto store = valueOf(CertificateStore::open(storeDir));
  requireOk(store->put("default/web", selfSigned("www.contoso.com")));

  CHECK(modeOf(storeDir) == 0700);
  CHECK(modeOf(storeDir / "default") == 0700);
  CHECK(modeOf(store->keyPath("default/web")) == 0600);
  CHECK(modeOf(store->keyPath("default/web").parent_path()) == 0700);
  CHECK((modeOf(store->chainPath("default/web")) & 0022) == 0);  // never writable by others
  CHECK(fs::is_symlink(storeDir / "default" / "web"));
}

TEST_CASE("CertificateStore refuses bad keys and mismatched bundles", "[controller][certs]") {
  TempDir dir;
  auto store = valueOf(CertificateStore::open(dir.path() / "certificates"));
  auto bundle = selfSigned("www.contoso.com");
  for (std::string key : {"web", "default/web/extra", "Default/web", "default/", "/web",
                          "default/../web", "default/.web", "-bad/web"}) {
    CAPTURE(key);
    auto put = store->put(key, bundle);
    REQUIRE_FALSE(put.isOk());
    CHECK(put.message().find("certificate store key '" + key + "'") == 0);
    CHECK_FALSE(store->get(key).isOk());
  }
  auto mismatched =
      CertificateBundle{bundle.chain, valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa))};
  auto put = store->put("default/web", mismatched);
  REQUIRE_FALSE(put.isOk());
  CHECK(put.message() ==
        "certificate store default/web: the private key does not match the leaf certificate");

  auto hierarchy = makeHierarchy({"www.contoso.com"});
  auto reversed = hierarchy.leaf;
  std::swap(reversed.chain[1], reversed.chain[2]);
  auto unordered = store->put("default/web", reversed);
  REQUIRE_FALSE(unordered.isOk());
  CHECK(unordered.message() ==
        "certificate store default/web: chain certificate 0 is not signed by "
        "certificate 1; the chain must be ordered leaf first");
  CHECK(valueOf(store->list()).empty());
}

TEST_CASE("CertificateStore reports a damaged stored pair naming the key", "[controller][certs]") {
  TempDir dir;
  auto store = valueOf(CertificateStore::open(dir.path() / "certificates"));
  requireOk(store->put("default/web", selfSigned("www.contoso.com")));
  // Someone replaces the key by hand (the store itself never writes in place).
  fs::remove(store->keyPath("default/web"));
  siteplane::testing::TempDir scratch;
  fs::copy_file(scratch.write("k", valueOf(PrivateKey::generate(KeyAlgorithm::kEcdsa)).toPem()),
                store->keyPath("default/web"));
  auto damaged = store->get("default/web");
  REQUIRE_FALSE(damaged.isOk());
  CHECK(damaged.message().rfind("certificate store default/web (", 0) == 0);
  CHECK(damaged.message().find("tls.key does not match the leaf certificate in tls.crt") !=
        std::string::npos);

  fs::remove(store->keyPath("default/web"));
  auto missing = store->get("default/web");
  REQUIRE_FALSE(missing.isOk());
  CHECK(missing.message() == "certificate store default/web: " +
                                 (store->directory() / "default" /
                                  fs::read_symlink(store->directory() / "default" / "web"))
                                     .string() +
                                 " lacks tls.key");
}

TEST_CASE(
    "CertificateStore sweeps what an interrupted write left and keeps the last complete version",
    "[controller][certs]") {
  TempDir dir;
  auto storeDir = dir.path() / "certificates";
  auto current = selfSigned("www.contoso.com");
  {
    auto store = valueOf(CertificateStore::open(storeDir));
    requireOk(store->put("default/web", current));
  }
  // What a crash in the middle of the next put leaves: a half-written version no link points to,
  // and a temporary link that was never renamed over the real name.
  auto spaceDir = storeDir / "default";
  fs::create_directory(spaceDir / ".web.0123456789ABCDEF");
  siteplane::testing::TempDir scratch;
  fs::copy_file(scratch.write("partial", "-----BEGIN PRIVATE KEY-----\nMIG"),
                spaceDir / ".web.0123456789ABCDEF" / "tls.key");
  fs::create_symlink(".web.0123456789ABCDEF", spaceDir / ".web.0123456789ABCDEF.link");
  REQUIRE(hiddenEntries(spaceDir).size() == 3);

  auto store = valueOf(CertificateStore::open(storeDir));
  CHECK(hiddenEntries(spaceDir).size() == 1);
  CHECK(valueOf(store->get("default/web"))->leaf() == current.leaf());
  CHECK(valueOf(store->list()) == std::vector<std::string>{"default/web"});
}

TEST_CASE("CertificateStore readers see a whole pair while a writer replaces it",
          "[controller][certs]") {
  TempDir dir;
  auto store = valueOf(CertificateStore::open(dir.path() / "certificates"));
  std::vector<CertificateBundle> bundles = {selfSigned("a.contoso.com"),
                                            selfSigned("b.contoso.com")};
  requireOk(store->put("default/web", bundles[0]));

  std::atomic<bool> done{false};
  std::atomic<int> writes{0};
  std::string writeError;
  std::thread writer([&] {
    for (int i = 1; i <= 60 && writeError.empty(); ++i) {
      auto put = store->put("default/web", bundles[static_cast<size_t>(i % 2)]);
      if (!put.isOk()) writeError = put.message();
      ++writes;
    }
    done = true;
  });
  int reads = 0;
  std::vector<std::string> readErrors;
  while (!done || reads < 10) {
    auto got = store->get("default/web");
    ++reads;
    if (!got.isOk()) {
      readErrors.push_back(got.message());
    } else if (!got->has_value() || !(*got)->key.matches((*got)->leaf())) {
      readErrors.push_back("missing or mismatched pair");
    }
  }
  writer.join();
  CHECK(writeError.empty());
  CHECK(readErrors.empty());
  CHECK(writes == 60);
  CHECK(hiddenEntries(store->directory() / "default").size() == 1);
}

TEST_CASE("CertificateStore survives a writer killed at any point of a put",
          "[controller][certs]") {
  TempDir dir;
  auto storeDir = dir.path() / "certificates";
  std::vector<CertificateBundle> bundles = {selfSigned("a.contoso.com"),
                                            selfSigned("b.contoso.com")};
  {
    auto store = valueOf(CertificateStore::open(storeDir));
    requireOk(store->put("default/web", bundles[0]));
  }
  for (int round = 1; round <= 8; ++round) {
    CAPTURE(round);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // The child replaces the pair in a loop, reporting each completed put, until killed.
      ::close(ready[0]);
      auto store = CertificateStore::open(storeDir);
      if (!store) ::_exit(2);
      for (unsigned i = 0;; ++i) {
        if (!(*store)->put("default/web", bundles[i % 2]).isOk()) ::_exit(3);
        char done = 'x';
        if (::write(ready[1], &done, 1) != 1) ::_exit(4);
      }
    }
    ::close(ready[1]);
    // Let it finish `round` puts, then kill it wherever the next one is.
    char buffer[8];
    int completed = 0;
    while (completed < round) {
      ssize_t n = ::read(ready[0], buffer, sizeof buffer);
      REQUIRE(n > 0);
      completed += static_cast<int>(n);
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(ready[0]);
    REQUIRE(WIFSIGNALED(status));

    auto store = valueOf(CertificateStore::open(storeDir));
    auto got = valueOf(store->get("default/web"));
    REQUIRE(got.has_value());
    CHECK(got->key.matches(got->leaf()));
    CHECK((got->leaf() == bundles[0].leaf() || got->leaf() == bundles[1].leaf()));
    // The sweep on open left nothing but the live version, and the real name is never a temp file.
    CHECK(hiddenEntries(storeDir / "default").size() == 1);
    CHECK(fs::is_symlink(storeDir / "default" / "web"));
  }
}

namespace {

// "ns<t % 2>/cert<t>", built with appends (GCC 12 misreports chained string + as overlapping).
std::string threadKey(size_t t) {
  std::string key = "ns";
  key += std::to_string(t % 2);
  key += "/cert";
  key += std::to_string(t);
  return key;
}

}  // namespace

TEST_CASE("CertificateStore takes puts of different keys from several threads",
          "[controller][certs]") {
  TempDir dir;
  auto store = valueOf(CertificateStore::open(dir.path() / "certificates"));
  std::vector<CertificateBundle> bundles;
  for (const char* host :
       {"h0.contoso.com", "h1.contoso.com", "h2.contoso.com", "h3.contoso.com"}) {
    bundles.push_back(selfSigned(host));
  }
  std::vector<std::thread> writers;
  std::vector<std::string> errors(bundles.size());
  for (size_t t = 0; t < bundles.size(); ++t) {
    writers.emplace_back([&, t] {
      for (int round = 0; round < 5 && errors[t].empty(); ++round) {
        auto put = store->put(threadKey(t), bundles[t]);
        if (!put.isOk()) errors[t] = put.message();
      }
    });
  }
  for (auto& writer : writers) writer.join();
  for (const auto& error : errors) CHECK(error.empty());
  CHECK(valueOf(store->list()) ==
        std::vector<std::string>{"ns0/cert0", "ns0/cert2", "ns1/cert1", "ns1/cert3"});
  for (size_t t = 0; t < bundles.size(); ++t) {
    auto got = valueOf(store->get(threadKey(t)));
    REQUIRE(got.has_value());
    CHECK(got->leaf() == bundles[t].leaf());
  }
  CHECK(hiddenEntries(store->directory() / "ns0").size() == 2);
  CHECK(hiddenEntries(store->directory() / "ns1").size() == 2);
}

TEST_CASE("CertificateStore hands out the decoded bundle of an unchanged version without decoding",
          "[controller][certs]") {
  TempDir dir;
  auto storeDir = dir.path() / "certificates";
  auto first = selfSigned("a.contoso.com");
  auto store = valueOf(CertificateStore::open(storeDir));
  requireOk(store->put("default/web", first));
  // The very objects that were put: nothing was read back or decoded.
  auto got = valueOf(store->get("default/web"));
  REQUIRE(got.has_value());
  CHECK(got->leaf().native() == first.leaf().native());
  CHECK(got->key.native() == first.key.native());

  // A new version is what get returns from then on.
  auto second = selfSigned("b.contoso.com");
  requireOk(store->put("default/web", second));
  got = valueOf(store->get("default/web"));
  REQUIRE(got.has_value());
  CHECK(got->leaf().native() == second.leaf().native());

  // Another store on the same directory decodes once, then shares what it decoded.
  auto reopened = valueOf(CertificateStore::open(storeDir));
  auto decoded = valueOf(reopened->get("default/web"));
  REQUIRE(decoded.has_value());
  CHECK(decoded->leaf() == second.leaf());
  CHECK(decoded->leaf().native() != second.leaf().native());
  auto again = valueOf(reopened->get("default/web"));
  REQUIRE(again.has_value());
  CHECK(again->leaf().native() == decoded->leaf().native());

  // A chain file rewritten in place by hand (same inode) is read again, not served from memory:
  // here another certificate, which the stored key does not match.
  {
    std::ofstream chain(store->chainPath("default/web"), std::ios::trunc);
    chain << first.leaf().toPem();
  }
  auto edited = store->get("default/web");
  REQUIRE_FALSE(edited.isOk());
  CHECK(edited.message().find("certificate store default/web (") == 0);

  // Removed keys are gone from memory too.
  requireOk(reopened->remove("default/web"));
  CHECK_FALSE(valueOf(reopened->get("default/web")).has_value());
}

TEST_CASE("CertificateStore commits puts from many threads together, each durable and whole",
          "[controller][certs]") {
  TempDir dir;
  auto storeDir = dir.path() / "certificates";
  constexpr size_t kThreads = 8;
  constexpr int kRounds = 6;
  std::vector<CertificateBundle> bundles;
  for (size_t t = 0; t < kThreads; ++t) {
    std::string host = "h";
    host += std::to_string(t);
    host += ".contoso.com";
    bundles.push_back(selfSigned(host));
  }
  {
    auto store = valueOf(CertificateStore::open(storeDir));
    std::vector<std::thread> writers;
    std::vector<std::string> errors(kThreads);
    for (size_t t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        // Each thread writes its own key and, every other round, one key all threads share.
        for (int round = 0; round < kRounds && errors[t].empty(); ++round) {
          std::string key = "default/shared";
          if (round % 2 == 0) {
            key = "default/c";
            key += std::to_string(t);
          }
          auto put = store->put(key, bundles[t]);
          if (!put.isOk()) errors[t] = put.message();
        }
      });
    }
    for (auto& writer : writers) writer.join();
    for (const auto& error : errors) CHECK(error.empty());
  }
  // What a restart finds: every key whole, and only the live version of each left on disk.
  auto store = valueOf(CertificateStore::open(storeDir));
  auto keys = valueOf(store->list());
  CHECK(keys.size() == kThreads + 1);
  for (size_t t = 0; t < kThreads; ++t) {
    std::string key = "default/c";
    key += std::to_string(t);
    auto got = valueOf(store->get(key));
    REQUIRE(got.has_value());
    CHECK(got->leaf() == bundles[t].leaf());
  }
  auto shared = valueOf(store->get("default/shared"));
  REQUIRE(shared.has_value());
  CHECK(shared->key.matches(shared->leaf()));
  CHECK(hiddenEntries(storeDir / "default").size() == kThreads + 1);
}

}  // namespace siteplane::certs

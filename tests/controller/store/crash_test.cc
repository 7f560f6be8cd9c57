#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "controller/store/store.h"
#include "tests/controller/store/store_fixture.h"

namespace siteplane::store {
namespace {

namespace fs = std::filesystem;
using namespace siteplane::store::testing;

// The writer's deterministic script, so that the parent knows what every acknowledged operation
// did and which one was in flight when the child died. Each object s<i> goes through four steps:
// create (value i), spec update (value i+1000), status update, then delete (odd i) or a label
// update (even i).
struct Expected {
  bool exists = false;
  int value = 0;
  int generation = 0;
  bool hasStatus = false;
  std::string label;
  uint64_t version = 0;  // 0: unknown (the in-flight operation)
};

// "s" + std::to_string(n), spelled so that GCC 12 does not raise its false -Wrestrict alarm.
std::string numbered(const char* prefix, uint64_t number) {
  std::string text = prefix;
  text += std::to_string(number);
  return text;
}

std::string nameOf(uint64_t op) { return numbered("s", op / 4); }

StoreResult<ObjectPtr> perform(Store& store, uint64_t op) {
  int i = static_cast<int>(op / 4);
  std::string name = nameOf(op);
  switch (op % 4) {
    case 0:
      return store.createObject(site(name, {{"value", i}}));
    case 1:
      return store.updateObject(site(name, {{"value", i + 1000}}));
    case 2: {
      json status = site(name);
      status["status"] = {{"observed", i}};
      return store.updateStatus(status);
    }
    default:
      if (i % 2 == 1) return store.removeObject(siteKey(name));
      return store.updateObject(site(name, {{"value", i + 1000}}, {{"round", numbered("r", i)}}));
  }
}

void apply(std::map<std::string, Expected>& state, uint64_t op, uint64_t version) {
  int i = static_cast<int>(op / 4);
  Expected& e = state[nameOf(op)];
  switch (op % 4) {
    case 0:
      e = Expected{true, i, 1, false, "", version};
      return;
    case 1:
      e.value = i + 1000;
      e.generation = 2;
      break;
    case 2:
      e.hasStatus = true;
      break;
    default:
      if (i % 2 == 1) {
        e = Expected{};
        return;
      }
      e.label = numbered("r", i);
      break;
  }
  e.version = version;
}

// What is wrong with the stored object compared with `e`, or "".
std::string compare(const Store& store, const std::string& name, const Expected& e) {
  auto found = store.get(siteKey(name));
  if (!e.exists) return found.isOk() ? "exists but should not" : "";
  if (!found.isOk()) return "missing";
  const json& object = **found;
  std::ostringstream problems;
  if (object["spec"]["value"] != e.value) problems << " value=" << object["spec"]["value"];
  if (object["metadata"]["generation"] != e.generation) {
    problems << " generation=" << object["metadata"]["generation"];
  }
  if (object.contains("status") != e.hasStatus) problems << " status=" << object.contains("status");
  std::string label = object["metadata"].value("labels", json::object()).value("round", "");
  if (label != e.label) problems << " label=" << label;
  if (e.version != 0 && versionNumber(object) != e.version) {
    problems << " resourceVersion=" << versionNumber(object) << " want " << e.version;
  }
  return problems.str();
}

[[noreturn]] void runWriter(const fs::path& stateDir, int ackFd) {
  auto opened = Store::create(stateDir);
  if (!opened) _exit(2);
  Store& store = **opened;
  for (uint64_t op = 0;; ++op) {
    auto result = perform(store, op);
    if (!result) {
      std::string line = "error " + std::to_string(op) + " " + result.message() + "\n";
      (void)!::write(ackFd, line.data(), line.size());
      _exit(3);
    }
    // Only now, after the call returned, is the write acknowledged.
    std::string line = std::to_string(op) + " " + versionOf(**result) + "\n";
    if (::write(ackFd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
  }
}

TEST_CASE("Store keeps every acknowledged write when the writer is killed at a random moment",
          "[controller][store][persistence][crash]") {
  std::random_device device;
  unsigned seed = device();
  CAPTURE(seed);
  std::mt19937 random(seed);

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    siteplane::testing::TempDir state;
    int pipeFds[2];
    REQUIRE(::pipe(pipeFds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(pipeFds[0]);
      runWriter(state.path(), pipeFds[1]);
    }
    ::close(pipeFds[1]);

    // Let the child get some way, then kill it mid-stride: after a random number of
    // acknowledgements plus a random sub-write delay.
    size_t killAfter = std::uniform_int_distribution<size_t>(8, 60)(random);
    std::string received;
    char buffer[4096];
    auto lines = [&] { return static_cast<size_t>(std::count(received.begin(), received.end(), '\n')); };
    while (lines() < killAfter) {
      ssize_t n = ::read(pipeFds[0], buffer, sizeof buffer);
      if (n <= 0) break;
      received.append(buffer, static_cast<size_t>(n));
    }
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(random)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    // Acknowledgements written before the kill are still in the pipe.
    ssize_t n;
    while ((n = ::read(pipeFds[0], buffer, sizeof buffer)) > 0) received.append(buffer, static_cast<size_t>(n));
    ::close(pipeFds[0]);

    // Replay the acknowledged operations into the model.
    std::map<std::string, Expected> expected;
    std::istringstream acks(received.substr(0, received.rfind('\n') + 1));
    uint64_t acked = 0;
    uint64_t lastVersion = 0;
    std::string line;
    while (std::getline(acks, line)) {
      INFO("ack line: " << line);
      REQUIRE(line.rfind("error", 0) != 0);
      uint64_t op = 0, version = 0;
      REQUIRE(std::sscanf(line.c_str(), "%lu %lu", &op, &version) == 2);
      REQUIRE(op == acked);
      REQUIRE(version > lastVersion);
      apply(expected, op, version);
      lastVersion = version;
      ++acked;
    }
    REQUIRE(acked >= killAfter);

    // The operation in flight may or may not have happened; everything acknowledged must have.
    std::string inFlight = nameOf(acked);
    std::map<std::string, Expected> ifApplied = expected;
    apply(ifApplied, acked, 0);

    auto reopened = Store::create(state.path());
    REQUIRE(reopened.isOk());
    Store& store = **reopened;
    CHECK(store.resourceVersion() >= lastVersion);
    for (const auto& [name, e] : expected) {
      if (name == inFlight) continue;
      INFO("object " << name);
      CHECK(compare(store, name, e) == "");
    }
    std::string before = compare(store, inFlight, expected[inFlight]);
    std::string after = compare(store, inFlight, ifApplied[inFlight]);
    INFO("in-flight object " << inFlight << ": as before:" << before << " as after:" << after);
    CHECK((before.empty() || after.empty()));
    if (after.empty() && !before.empty() && ifApplied[inFlight].exists) {
      CHECK(versionNumber(**store.get(siteKey(inFlight))) > lastVersion);
    }
    // Nothing that was never written shows up.
    for (const auto& item : store.list({"Site", std::nullopt, {}}).items) {
      CHECK(ifApplied.count((*item)["metadata"]["name"].get<std::string>()) == 1);
    }
    // New writes continue above every acknowledged version.
    auto next = store.createObject(site("after-restart"));
    REQUIRE(next.isOk());
    CHECK(versionNumber(**next) > lastVersion);
  }
}

}  // namespace
}  // namespace siteplane::store

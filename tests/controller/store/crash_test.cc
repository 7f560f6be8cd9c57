#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

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

WriteOp operation(uint64_t op) {
  int i = static_cast<int>(op / 4);
  std::string name = nameOf(op);
  switch (op % 4) {
    case 0:
      return WriteOp::create(site(name, {{"value", i}}));
    case 1:
      return WriteOp::update(site(name, {{"value", i + 1000}}));
    case 2: {
      json status = site(name);
      status["status"] = {{"observed", i}};
      return WriteOp::updateStatus(status);
    }
    default:
      if (i % 2 == 1) return WriteOp::remove(siteKey(name));
      return WriteOp::update(site(name, {{"value", i + 1000}}, {{"round", numbered("r", i)}}));
  }
}

// Through the single-object methods, as the reconcilers and the API server write.
Result<ObjectPtr> perform(Store& store, WriteOp op) {
  switch (op.type) {
    case WriteOp::Type::kCreate:
      return store.createObject(std::move(op.object));
    case WriteOp::Type::kUpdate:
      return store.updateObject(std::move(op.object));
    case WriteOp::Type::kUpdateStatus:
      return store.updateStatus(std::move(op.object));
    case WriteOp::Type::kRemove:
      return store.removeObject(op.key);
    default:
      return store.upsertObject(std::move(op.object));
  }
}

// Batched mode: batches of 1 to 5 operations, a fixed sequence so the parent knows the bounds.
uint64_t batchSize(uint64_t batch) { return 1 + (batch * 7) % 5; }

// The end (exclusive) of the batch that contains operation `op`.
uint64_t batchEnd(uint64_t op) {
  uint64_t end = 0;
  for (uint64_t batch = 0; end <= op; ++batch) end += batchSize(batch);
  return end;
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

void acknowledge(int ackFd, uint64_t op, const Result<ObjectPtr>& result) {
  std::string line = result.isOk() ? std::to_string(op) + " " + versionOf(**result) + "\n"
                                   : "error " + std::to_string(op) + " " + result.message() + "\n";
  if (::write(ackFd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
  if (!result.isOk()) _exit(3);
}

[[noreturn]] void runWriter(const fs::path& stateDir, int ackFd, bool batched) {
  auto opened = Store::create(stateDir);
  if (!opened) _exit(2);
  Store& store = **opened;
  uint64_t op = 0;
  for (uint64_t batch = 0;; ++batch) {
    if (!batched) {
      auto result = perform(store, operation(op));
      // Only now, after the call returned, is the write acknowledged.
      acknowledge(ackFd, op++, result);
      continue;
    }
    std::vector<WriteOp> ops;
    for (uint64_t k = 0; k < batchSize(batch); ++k) ops.push_back(operation(op + k));
    auto results = store.writeBatch(std::move(ops));
    for (const auto& result : results) acknowledge(ackFd, op++, result);
  }
}

// Kills a writer at a random moment, then checks that the reopened store holds every
// acknowledged write, and that the operations in flight were applied as a prefix, if at all.
void crashAndRecover(bool batched, std::mt19937& random) {
  siteplane::testing::TempDir state;
  int pipeFds[2];
  REQUIRE(::pipe(pipeFds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipeFds[0]);
    runWriter(state.path(), pipeFds[1], batched);
  }
  ::close(pipeFds[1]);

  // Let the child get some way, then kill it mid-stride: after a random number of
  // acknowledgements plus a random sub-write delay.
  size_t killAfter = std::uniform_int_distribution<size_t>(8, 60)(random);
  std::string received;
  char buffer[4096];
  auto lines = [&] {
    return static_cast<size_t>(std::count(received.begin(), received.end(), '\n'));
  };
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
  INFO("writer output: " << received.substr(received.size() > 300 ? received.size() - 300 : 0));
  REQUIRE(WIFSIGNALED(status));
  // Acknowledgements written before the kill are still in the pipe.
  ssize_t n;
  while ((n = ::read(pipeFds[0], buffer, sizeof buffer)) > 0)
    received.append(buffer, static_cast<size_t>(n));
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

  // In flight: the rest of the batch being acknowledged, or the next batch (or the next single
  // operation). Any prefix of it may have been applied, with the next versions in order.
  uint64_t inFlightEnd = batched ? batchEnd(acked) : acked + 1;
  std::vector<std::map<std::string, Expected>> prefixes{expected};
  std::set<std::string> touched;
  for (uint64_t op = acked; op < inFlightEnd; ++op) {
    prefixes.push_back(prefixes.back());
    apply(prefixes.back(), op, lastVersion + (op - acked) + 1);
    touched.insert(nameOf(op));
  }

  auto reopened = Store::create(state.path());
  REQUIRE(reopened.isOk());
  Store& store = **reopened;
  CHECK(store.resourceVersion() >= lastVersion);
  for (const auto& [name, e] : expected) {
    if (touched.count(name)) continue;
    INFO("object " << name);
    CHECK(compare(store, name, e) == "");
  }
  int matchingPrefix = -1;
  for (size_t p = 0; p < prefixes.size() && matchingPrefix < 0; ++p) {
    bool all = std::all_of(touched.begin(), touched.end(), [&](const std::string& name) {
      return compare(store, name, prefixes[p][name]).empty();
    });
    if (all) matchingPrefix = static_cast<int>(p);
  }
  INFO("operations in flight: " << acked << " to " << inFlightEnd - 1);
  CHECK(matchingPrefix >= 0);
  // Nothing that was never written shows up.
  for (const auto& item : store.list({"Site", std::nullopt, {}}).items) {
    CHECK(prefixes.back().count((*item)["metadata"]["name"].get<std::string>()) == 1);
  }
  // New writes continue above every version that may have been used.
  auto next = store.createObject(site("after-restart"));
  REQUIRE(next.isOk());
  CHECK(versionNumber(**next) > lastVersion + (inFlightEnd - acked));
}

TEST_CASE("Store keeps every acknowledged write when the writer is killed at a random moment",
          "[controller][store][persistence][crash]") {
  std::random_device device;
  unsigned seed = device();
  CAPTURE(seed);
  std::mt19937 random(seed);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    crashAndRecover(/*batched=*/false, random);
  }
}

TEST_CASE("Store keeps every acknowledged batch when the writer is killed at a random moment",
          "[controller][store][persistence][crash]") {
  std::random_device device;
  unsigned seed = device();
  CAPTURE(seed);
  std::mt19937 random(seed);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    crashAndRecover(/*batched=*/true, random);
  }
}

}  // namespace
}  // namespace siteplane::store

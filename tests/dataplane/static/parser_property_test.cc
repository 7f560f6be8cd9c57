// Random and adversarial bytes through every parser of the module: none may crash (the sanitizer
// build runs these too), and each result keeps the invariants the rest of the module relies on.

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "dataplane/static/conditionals.h"
#include "dataplane/static/http_date.h"
#include "dataplane/static/request_path.h"

namespace siteplane::staticfiles {
namespace {

// Mostly bytes that matter to the parsers, sometimes anything.
std::string randomText(std::mt19937& random, size_t maxLength) {
  static const std::string kInteresting = "/.%2eEfF05\\-=,\" W*bytes0123456789GMT:;\t";
  std::uniform_int_distribution<size_t> length(0, maxLength);
  std::string text(length(random), '\0');
  for (char& c : text) {
    c = random() % 4 == 0 ? static_cast<char>(random() % 256)
                          : kInteresting[random() % kInteresting.size()];
  }
  return text;
}

}  // namespace

TEST_CASE("decodeRequestPath output is always a normalized path under /",
          "[dataplane][static][path][property]") {
  std::mt19937 random(7);
  std::string out;
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    // Built by append: GCC 12 reports a false -Wrestrict for "literal" + std::string here.
    std::string target = "/";
    target.append(randomText(random, 24));
    PathCheck check = decodeRequestPath(target, DotfilePolicy::kAllow, out);
    if (!check.ok()) {
      CHECK((check.status == 400 || check.status == 403 || check.status == 404));
      continue;
    }
    ++accepted;
    INFO(target);
    REQUIRE(out.front() == '/');
    REQUIRE(out.find("//") == std::string::npos);
    REQUIRE(out.find('\\') == std::string::npos);
    REQUIRE(out.find('\0') == std::string::npos);
    std::string wrapped = out;
    if (wrapped.back() != '/') wrapped.push_back('/');
    REQUIRE(wrapped.find("/../") == std::string::npos);
    REQUIRE(wrapped.find("/./") == std::string::npos);
  }
  CHECK(accepted > 1000);
}

TEST_CASE("parseRange only ever selects bytes inside the representation",
          "[dataplane][static][range][property]") {
  std::mt19937 random(11);
  int satisfiable = 0;
  for (int i = 0; i < 20000; ++i) {
    // Mostly well-formed specs with numbers around the size, sometimes junk or several specs.
    std::string header = random() % 8 == 0 ? "" : "bytes=";
    int specs = random() % 6 == 0 ? 2 : 1;
    for (int spec = 0; spec < specs; ++spec) {
      if (spec > 0) header.append(", ");
      if (random() % 4 != 0) header.append(std::to_string(random() % 1200));
      header.push_back('-');
      if (random() % 3 != 0) header.append(std::to_string(random() % 1200));
      if (random() % 8 == 0) header.append(randomText(random, 4));
    }
    uint64_t size = random() % 3 == 0 ? 0 : random() % 1000;
    ByteRange range = parseRange(header, size);
    if (range.kind == ByteRange::Kind::kSatisfiable) {
      ++satisfiable;
      INFO(header << " size " << size);
      REQUIRE(range.first <= range.last);
      REQUIRE(range.last < size);
      REQUIRE(range.length() <= size);
    }
  }
  CHECK(satisfiable > 1000);
}

TEST_CASE("HTTP date and entity-tag parsers survive arbitrary input",
          "[dataplane][static][conditional][property]") {
  std::mt19937 random(13);
  for (int i = 0; i < 20000; ++i) {
    std::string text = randomText(random, 40);
    std::optional<std::time_t> date = HttpDate::parse(text);
    if (date) {
      // Whatever parsed is a real instant that formats back to itself.
      REQUIRE(HttpDate::parse(HttpDate::format(*date)) == date);
    }
    (void)ifNoneMatchMatches(text, "\"1-2-3\"");
    (void)ifMatchMatches(text, "\"1-2-3\"");
    (void)ifRangeMatches(text, "\"1-2-3\"", 0);
  }
  // Near-misses of valid dates, one field broken at a time.
  const std::string valid = "Sun, 06 Nov 1994 08:49:37 GMT";
  for (size_t i = 0; i < valid.size(); ++i) {
    std::string broken = valid;
    broken[i] = broken[i] == 'X' ? 'Y' : 'X';
    INFO(broken);
    CHECK_FALSE(HttpDate::parse(broken).has_value());
  }
}

}  // namespace siteplane::staticfiles

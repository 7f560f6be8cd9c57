#include "dataplane/static/conditionals.h"

#include <catch2/catch.hpp>

namespace siteplane::staticfiles {

constexpr std::string_view kEtag = "\"1a-2b-3c\"";
constexpr std::time_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST_CASE("If-None-Match uses the weak comparison over a list",
          "[dataplane][static][conditional]") {
  CHECK(ifNoneMatchMatches("\"1a-2b-3c\"", kEtag));
  CHECK(ifNoneMatchMatches("W/\"1a-2b-3c\"", kEtag));
  CHECK(ifNoneMatchMatches("\"x\", \"1a-2b-3c\"", kEtag));
  CHECK(ifNoneMatchMatches("\"x\",W/\"1a-2b-3c\" , \"y\"", kEtag));
  CHECK(ifNoneMatchMatches("*", kEtag));
  CHECK(ifNoneMatchMatches(" * ", kEtag));
  CHECK_FALSE(ifNoneMatchMatches("\"1a-2b-3d\"", kEtag));
  CHECK_FALSE(ifNoneMatchMatches("\"x\", \"y\"", kEtag));
  CHECK_FALSE(ifNoneMatchMatches("1a-2b-3c", kEtag));  // unquoted: malformed
  CHECK_FALSE(ifNoneMatchMatches("\"1a-2b-3c", kEtag));
  CHECK_FALSE(ifNoneMatchMatches("\"x\" junk, \"1a-2b-3c\"", kEtag));
}

TEST_CASE("If-Modified-Since compares with the file's modification time",
          "[dataplane][static][conditional]") {
  CHECK(notModifiedSince("Sun, 06 Nov 1994 08:49:37 GMT", kMtime));
  CHECK(notModifiedSince("Sun, 06 Nov 1994 08:49:38 GMT", kMtime));
  CHECK_FALSE(notModifiedSince("Sun, 06 Nov 1994 08:49:36 GMT", kMtime));
  CHECK_FALSE(notModifiedSince("not a date", kMtime));
}

TEST_CASE("If-Range needs a strong equal ETag or the exact date",
          "[dataplane][static][conditional]") {
  CHECK(ifRangeMatches("\"1a-2b-3c\"", kEtag, kMtime));
  CHECK_FALSE(ifRangeMatches("W/\"1a-2b-3c\"", kEtag, kMtime));
  CHECK_FALSE(ifRangeMatches("\"other\"", kEtag, kMtime));
  CHECK(ifRangeMatches("Sun, 06 Nov 1994 08:49:37 GMT", kEtag, kMtime));
  CHECK_FALSE(ifRangeMatches("Sun, 06 Nov 1994 08:49:38 GMT", kEtag, kMtime));
  CHECK_FALSE(ifRangeMatches("garbage", kEtag, kMtime));
  CHECK_FALSE(ifRangeMatches("", kEtag, kMtime));
}

TEST_CASE("parseRange selects one byte range", "[dataplane][static][range]") {
  using Kind = ByteRange::Kind;
  struct Case {
    std::string_view header;
    uint64_t size;
    Kind kind;
    uint64_t first;
    uint64_t last;
  };
  const Case cases[] = {
      {"bytes=0-9", 100, Kind::kSatisfiable, 0, 9},
      {"bytes=10-", 100, Kind::kSatisfiable, 10, 99},
      {"bytes=-10", 100, Kind::kSatisfiable, 90, 99},
      {"bytes=-1000", 100, Kind::kSatisfiable, 0, 99},
      {"bytes=50-1000", 100, Kind::kSatisfiable, 50, 99},
      {"bytes=99-99", 100, Kind::kSatisfiable, 99, 99},
      {"BYTES=0-0", 100, Kind::kSatisfiable, 0, 0},
      {" bytes=0-1 ", 100, Kind::kSatisfiable, 0, 1},
      {"bytes=0-1,", 100, Kind::kSatisfiable, 0, 1},
      {"bytes=0-99999999999999999999999", 100, Kind::kSatisfiable, 0, 99},
      {"bytes=100-", 100, Kind::kUnsatisfiable, 0, 0},
      {"bytes=100-200", 100, Kind::kUnsatisfiable, 0, 0},
      {"bytes=99999999999999999999999-", 100, Kind::kUnsatisfiable, 0, 0},
      {"bytes=-0", 100, Kind::kUnsatisfiable, 0, 0},
      {"bytes=0-", 0, Kind::kUnsatisfiable, 0, 0},
      {"bytes=-5", 0, Kind::kUnsatisfiable, 0, 0},
      {"bytes=0-1,5-6", 100, Kind::kIgnore, 0, 0},  // several ranges: whole file
      {"bytes=9-1", 100, Kind::kIgnore, 0, 0},      // last < first: invalid
      {"bytes=a-b", 100, Kind::kIgnore, 0, 0},
      {"bytes=-", 100, Kind::kIgnore, 0, 0},
      {"bytes=5", 100, Kind::kIgnore, 0, 0},
      {"bytes=", 100, Kind::kIgnore, 0, 0},
      {"bytes = 0-1", 100, Kind::kIgnore, 0, 0},
      {"items=0-1", 100, Kind::kIgnore, 0, 0},
      {"0-1", 100, Kind::kIgnore, 0, 0},
      {"bytes=+1-2", 100, Kind::kIgnore, 0, 0},
  };
  for (const Case& c : cases) {
    INFO(c.header << " size " << c.size);
    ByteRange range = parseRange(c.header, c.size);
    CHECK(range.kind == c.kind);
    if (c.kind == Kind::kSatisfiable) {
      CHECK(range.first == c.first);
      CHECK(range.last == c.last);
    }
  }
}

}  // namespace siteplane::staticfiles

namespace siteplane::staticfiles {

TEST_CASE("If-Match uses the strong comparison", "[dataplane][static][conditional]") {
  CHECK(ifMatchMatches("\"1a-2b-3c\"", kEtag));
  CHECK(ifMatchMatches("\"x\", \"1a-2b-3c\"", kEtag));
  CHECK(ifMatchMatches("*", kEtag));
  CHECK_FALSE(ifMatchMatches("W/\"1a-2b-3c\"", kEtag));
  CHECK_FALSE(ifMatchMatches("\"1a-2b-3c\"", "W/\"1a-2b-3c\""));
  CHECK_FALSE(ifMatchMatches("\"x\"", kEtag));
  CHECK_FALSE(ifMatchMatches("garbage", kEtag));
}

TEST_CASE("If-Unmodified-Since fails only for a later modification",
          "[dataplane][static][conditional]") {
  CHECK(unmodifiedSince("Sun, 06 Nov 1994 08:49:37 GMT", kMtime));
  CHECK(unmodifiedSince("Mon, 07 Nov 1994 00:00:00 GMT", kMtime));
  CHECK_FALSE(unmodifiedSince("Sun, 06 Nov 1994 08:49:36 GMT", kMtime));
  CHECK(unmodifiedSince("not a date", kMtime));  // ignored
}

}  // namespace siteplane::staticfiles

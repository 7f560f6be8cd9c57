#include "dataplane/static/http_date.h"

#include <catch2/catch.hpp>

namespace siteplane::staticfiles {

// 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110.
constexpr std::time_t kRfcExample = 784111777;

TEST_CASE("HttpDate formats IMF-fixdate", "[dataplane][static][date]") {
  CHECK(HttpDate::format(kRfcExample) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(HttpDate::format(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(HttpDate::format(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST_CASE("HttpDate parses the three HTTP date forms", "[dataplane][static][date]") {
  CHECK(HttpDate::parse("Sun, 06 Nov 1994 08:49:37 GMT") == kRfcExample);
  CHECK(HttpDate::parse("Sunday, 06-Nov-94 08:49:37 GMT") == kRfcExample);
  CHECK(HttpDate::parse("Sun Nov  6 08:49:37 1994") == kRfcExample);
  CHECK(HttpDate::parse("  Sun, 06 Nov 1994 08:49:37 GMT ") == kRfcExample);
  CHECK(HttpDate::parse("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
}

TEST_CASE("HttpDate refuses malformed and impossible dates", "[dataplane][static][date]") {
  for (const char* text : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC",
                           "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
                           "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Jan 1994 08:49:37 GMT",
                           "Mon, 29 Feb 1999 00:00:00 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                           "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT x",
                           "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994"}) {
    INFO(text);
    CHECK_FALSE(HttpDate::parse(text).has_value());
  }
}

TEST_CASE("HttpDate round-trips what it formats", "[dataplane][static][date]") {
  for (std::time_t t :
       {std::time_t{0}, kRfcExample, std::time_t{1700000000}, std::time_t{4102444799}}) {
    CHECK(HttpDate::parse(HttpDate::format(t)) == t);
  }
}

TEST_CASE("HttpDate reformats the cached date only when the second changes",
          "[dataplane][static][date]") {
  HttpDate date;
  std::string_view first = date.formatCached(kRfcExample);
  CHECK(first == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(date.formatCached(kRfcExample).data() == first.data());
  CHECK(date.formatCached(kRfcExample + 1) == "Sun, 06 Nov 1994 08:49:38 GMT");
  CHECK(HttpDate::parse(date.now()).has_value());
}

}  // namespace siteplane::staticfiles

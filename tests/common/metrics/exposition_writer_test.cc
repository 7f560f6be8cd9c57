#include "common/metrics/exposition_writer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

namespace siteplane::metrics {

TEST_CASE("ExpositionWriter writes HELP and TYPE once above every sample of a family",
          "[common][metrics]") {
  ExpositionWriter out;
  REQUIRE(out.declare("requests_total", MetricType::kCounter, "Requests answered."));
  REQUIRE(out.add("requests_total", {{"site", "b"}, {"code_class", "2xx"}}, uint64_t{3}));
  REQUIRE(out.declare("connections_active", MetricType::kGauge, "Open connections."));
  REQUIRE(out.add("connections_active", {}, uint64_t{2}));
  // Declared again (same type and help) and added to after another family: still one block.
  REQUIRE(out.declare("requests_total", MetricType::kCounter, "Requests answered."));
  REQUIRE(out.add("requests_total", {{"site", "a"}, {"code_class", "4xx"}}, uint64_t{1}));

  CHECK(out.text() ==
        "# HELP connections_active Open connections.\n"
        "# TYPE connections_active gauge\n"
        "connections_active 2\n"
        "# HELP requests_total Requests answered.\n"
        "# TYPE requests_total counter\n"
        "requests_total{site=\"a\",code_class=\"4xx\"} 1\n"
        "requests_total{site=\"b\",code_class=\"2xx\"} 3\n");
}

TEST_CASE("ExpositionWriter writes a declared family without samples as HELP and TYPE only",
          "[common][metrics]") {
  ExpositionWriter out;
  CHECK(out.text().empty());
  REQUIRE(out.declare("failures_total", MetricType::kCounter, "Failures."));
  CHECK(out.text() == "# HELP failures_total Failures.\n# TYPE failures_total counter\n");
}

TEST_CASE("ExpositionWriter output does not depend on the order samples are added",
          "[common][metrics]") {
  auto build = [](bool reversed) {
    ExpositionWriter out;
    std::vector<std::string> names = {"zeta_total", "alpha_total", "mid_total"};
    std::vector<std::string> sites = {"c", "a", "b"};
    if (reversed) {
      std::reverse(names.begin(), names.end());
      std::reverse(sites.begin(), sites.end());
    }
    for (const auto& name : names) {
      REQUIRE(out.declare(name, MetricType::kCounter, "Help of " + name + "."));
      for (const auto& site : sites) REQUIRE(out.add(name, {{"site", site}}, uint64_t{1}));
    }
    return out.text();
  };
  std::string forward = build(false);
  CHECK(forward == build(true));
  CHECK(forward.find("alpha_total") < forward.find("mid_total"));
  CHECK(forward.find("mid_total") < forward.find("zeta_total"));
  CHECK(forward.find("alpha_total{site=\"a\"}") < forward.find("alpha_total{site=\"b\"}"));
}

TEST_CASE("ExpositionWriter escapes backslash, double quote and line feed in label values",
          "[common][metrics]") {
  ExpositionWriter out;
  REQUIRE(out.declare("paths", MetricType::kGauge, "Odd label values."));
  REQUIRE(out.add("paths", {{"path", "C:\\sites\\\"web\"\nnext"}}, 1.0));
  CHECK(out.text().find("paths{path=\"C:\\\\sites\\\\\\\"web\\\"\\nnext\"} 1\n") !=
        std::string::npos);
  // Other bytes, UTF-8 included, pass through unchanged.
  CHECK(ExpositionWriter::escapeLabelValue("caf\xc3\xa9 {a=b}\t") == "caf\xc3\xa9 {a=b}\t");
  CHECK(ExpositionWriter::escapeLabelValue("") == "");
}

TEST_CASE("ExpositionWriter escapes backslash and line feed in HELP, but not quotes",
          "[common][metrics]") {
  ExpositionWriter out;
  REQUIRE(out.declare("x", MetricType::kGauge, "Line one\nline \"two\" with C:\\path."));
  CHECK(out.text().rfind("# HELP x Line one\\nline \"two\" with C:\\\\path.\n", 0) == 0);
}

TEST_CASE("ExpositionWriter formats values as the exposition format reads them",
          "[common][metrics]") {
  CHECK(ExpositionWriter::formatValue(12.0) == "12");
  CHECK(ExpositionWriter::formatValue(0.005) == "0.005");
  CHECK(ExpositionWriter::formatValue(-3.5) == "-3.5");
  CHECK(ExpositionWriter::formatValue(1e21) == "1e+21");
  CHECK(ExpositionWriter::formatValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(ExpositionWriter::formatValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(ExpositionWriter::formatValue(std::nan("")) == "NaN");

  ExpositionWriter out;
  REQUIRE(out.declare("big_total", MetricType::kCounter, "Exact above 2^53."));
  REQUIRE(out.add("big_total", {}, uint64_t{18446744073709551615u}));
  CHECK(out.text().find("big_total 18446744073709551615\n") != std::string::npos);
}

TEST_CASE("ExpositionWriter writes a histogram's cumulative buckets, +Inf, sum and count",
          "[common][metrics]") {
  ExpositionWriter out;
  REQUIRE(out.declare("duration_seconds", MetricType::kHistogram, "How long it took."));
  HistogramSnapshot snapshot{{0.01, 0.1, 1}, {1, 3, 3}, 4, 7.25};
  REQUIRE(out.addHistogram("duration_seconds", {{"kind", "Certificate"}}, snapshot));
  REQUIRE(out.addHistogram("duration_seconds", {}, HistogramSnapshot{{0.5}, {0}, 0, 0}));
  CHECK(out.text() ==
        "# HELP duration_seconds How long it took.\n"
        "# TYPE duration_seconds histogram\n"
        "duration_seconds_bucket{le=\"0.5\"} 0\n"
        "duration_seconds_bucket{le=\"+Inf\"} 0\n"
        "duration_seconds_sum 0\n"
        "duration_seconds_count 0\n"
        "duration_seconds_bucket{kind=\"Certificate\",le=\"0.01\"} 1\n"
        "duration_seconds_bucket{kind=\"Certificate\",le=\"0.1\"} 3\n"
        "duration_seconds_bucket{kind=\"Certificate\",le=\"1\"} 3\n"
        "duration_seconds_bucket{kind=\"Certificate\",le=\"+Inf\"} 4\n"
        "duration_seconds_sum{kind=\"Certificate\"} 7.25\n"
        "duration_seconds_count{kind=\"Certificate\"} 4\n");
}

TEST_CASE("ExpositionWriter refuses what would make an invalid exposition, naming the metric",
          "[common][metrics]") {
  ExpositionWriter out;
  REQUIRE(out.declare("ok_total", MetricType::kCounter, "Fine."));
  REQUIRE(out.declare("lat_seconds", MetricType::kHistogram, "Latency."));
  REQUIRE(out.add("ok_total", {{"site", "a"}}, uint64_t{1}));
  REQUIRE(out.declare("q_sum", MetricType::kGauge, "Sum."));

  struct Case {
    const char* what;
    Status status;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({"bad metric name", out.declare("1st", MetricType::kGauge, "x"),
                   "metric \"1st\": the name must match [a-zA-Z_:][a-zA-Z0-9_:]*"});
  cases.push_back({"dash in name", out.declare("a-b", MetricType::kGauge, "x"),
                   "metric \"a-b\": the name must match [a-zA-Z_:][a-zA-Z0-9_:]*"});
  cases.push_back({"type changes", out.declare("ok_total", MetricType::kGauge, "Fine."),
                   "metric \"ok_total\": declared as a counter already, now as a gauge"});
  cases.push_back({"help changes", out.declare("ok_total", MetricType::kCounter, "Other."),
                   "metric \"ok_total\": declared already with other help text"});
  cases.push_back({"histogram series name",
                   out.declare("lat_seconds_count", MetricType::kGauge, "x"),
                   "metric \"lat_seconds_count\": histogram \"lat_seconds\" already writes series "
                   "of that name"});
  cases.push_back({"histogram over a family", out.declare("q", MetricType::kHistogram, "x"),
                   "metric \"q\": the histogram's series \"q_sum\" is declared already as a "
                   "family of its own"});
  cases.push_back({"undeclared", out.add("nope", {}, 1.0), "metric \"nope\": not declared"});
  cases.push_back({"sample into a histogram", out.add("lat_seconds", {}, 1.0),
                   "metric \"lat_seconds\": is a histogram; add its series with addHistogram"});
  cases.push_back({"histogram into a counter",
                   out.addHistogram("ok_total", {}, HistogramSnapshot{{1}, {0}, 0, 0}),
                   "metric \"ok_total\": is a counter, not a histogram"});
  cases.push_back({"bad label name", out.add("ok_total", {{"0x", "v"}}, uint64_t{1}),
                   "metric \"ok_total\": label \"0x\": the name must match "
                   "[a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\""});
  cases.push_back({"reserved label name", out.add("ok_total", {{"__name__", "v"}}, uint64_t{1}),
                   "metric \"ok_total\": label \"__name__\": the name must match "
                   "[a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\""});
  cases.push_back({"label twice", out.add("ok_total", {{"a", "1"}, {"a", "2"}}, uint64_t{1}),
                   "metric \"ok_total\": label \"a\": given twice"});
  cases.push_back({"series twice", out.add("ok_total", {{"site", "a"}}, uint64_t{2}),
                   "metric \"ok_total\": series {site=\"a\"} added twice"});
  cases.push_back({"negative counter", out.add("ok_total", {{"site", "n"}}, -1.0),
                   "metric \"ok_total\": a counter cannot be -1"});
  cases.push_back({"NaN counter", out.add("ok_total", {{"site", "n"}}, std::nan("")),
                   "metric \"ok_total\": a counter cannot be NaN"});
  cases.push_back(
      {"le on a histogram",
       out.addHistogram("lat_seconds", {{"le", "1"}}, HistogramSnapshot{{1}, {0}, 0, 0}),
       "metric \"lat_seconds\": label \"le\": a histogram adds le itself"});
  cases.push_back({"bounds not increasing",
                   out.addHistogram("lat_seconds", {}, HistogramSnapshot{{1, 1}, {0, 0}, 0, 0}),
                   "metric \"lat_seconds\": bucket bounds must be finite and strictly increasing "
                   "(le=1)"});
  cases.push_back(
      {"infinite bound",
       out.addHistogram("lat_seconds", {},
                        HistogramSnapshot{{std::numeric_limits<double>::infinity()}, {0}, 0, 0}),
       "metric \"lat_seconds\": bucket bounds must be finite and strictly increasing "
       "(le=+Inf)"});
  cases.push_back({"counts decrease",
                   out.addHistogram("lat_seconds", {}, HistogramSnapshot{{1, 2}, {2, 1}, 2, 0}),
                   "metric \"lat_seconds\": bucket le=2 counts 1, outside the counts of its "
                   "neighbours and the total"});
  cases.push_back({"count below a bucket",
                   out.addHistogram("lat_seconds", {}, HistogramSnapshot{{1}, {3}, 2, 0}),
                   "metric \"lat_seconds\": bucket le=1 counts 3, outside the counts of its "
                   "neighbours and the total"});
  cases.push_back({"counts and bounds differ",
                   out.addHistogram("lat_seconds", {}, HistogramSnapshot{{1, 2}, {0}, 0, 0}),
                   "metric \"lat_seconds\": 2 bucket bounds but 1 counts"});

  for (const auto& c : cases) {
    INFO(c.what);
    REQUIRE_FALSE(c.status.isOk());
    CHECK(c.status.message() == c.message);
  }
  // Nothing refused reached the output.
  CHECK(out.text() ==
        "# HELP lat_seconds Latency.\n"
        "# TYPE lat_seconds histogram\n"
        "# HELP ok_total Fine.\n"
        "# TYPE ok_total counter\n"
        "ok_total{site=\"a\"} 1\n"
        "# HELP q_sum Sum.\n"
        "# TYPE q_sum gauge\n");
}

TEST_CASE("ExpositionWriter accepts a gauge below zero", "[common][metrics]") {
  ExpositionWriter out;
  REQUIRE(out.declare("expiry_seconds", MetricType::kGauge, "Until notAfter."));
  REQUIRE(out.add("expiry_seconds", {{"name", "old"}}, -86400.0));
  CHECK(out.text().find("expiry_seconds{name=\"old\"} -86400\n") != std::string::npos);
}

}  // namespace siteplane::metrics

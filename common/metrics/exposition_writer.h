#pragma once

// Builds a Prometheus text exposition (format 0.0.4,
// https://prometheus.io/docs/instrumenting/exposition_formats/): counters, gauges and histograms
// with labels, each family's `# HELP` and `# TYPE` written once above all of its samples.
//
//   ExpositionWriter out;
//   if (auto s = out.declare("siteplane_http_requests_total", MetricType::kCounter,
//                            "HTTP requests answered, by site and status class."); !s) ...
//   if (auto s = out.add("siteplane_http_requests_total",
//                        {{"site", "default/web"}, {"code_class", "2xx"}}, uint64_t{12}); !s) ...
//   std::string body = out.text();   // serve as kContentType
//
// The output is deterministic: families in name order, series of a family in label order, so two
// scrapes of the same state are byte-identical and diffs show what moved. Label values are escaped
// (backslash, double quote, line feed), so any string is a safe label value; metric and label
// names are checked against the format's grammar instead, because they come from code.
//
// Not thread-safe: build one writer per scrape.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics/histogram_snapshot.h"
#include "common/status.h"

namespace siteplane::metrics {

// The Content-Type of text().
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

// Label name and value pairs, written in the order given.
using Labels = std::vector<std::pair<std::string, std::string>>;

class ExpositionWriter {
 public:
  // Declares a family, so that its HELP and TYPE lines appear even before it has a sample (a
  // counter that has not counted yet is still discoverable). Declaring a name again is fine when
  // type and help are the same. Errors: a name outside [a-zA-Z_:][a-zA-Z0-9_:]*, another type or
  // help for the name, or a name one of a histogram's series already uses (x_bucket, x_sum,
  // x_count).
  Status declare(std::string_view name, MetricType type, std::string_view help);

  // One sample of a declared counter or gauge. Errors: an undeclared family or a histogram, a
  // label name outside [a-zA-Z_][a-zA-Z0-9_]* or starting with "__", a label named twice, a series
  // (the same labels) added twice, a counter that is negative or NaN.
  Status add(std::string_view name, const Labels& labels, double value);
  Status add(std::string_view name, const Labels& labels, uint64_t value);

  // One series of a declared histogram: its cumulative _bucket lines (le="..." appended to the
  // labels, +Inf last), _sum and _count. Errors as add(), plus a label named "le", bounds that
  // are not strictly increasing and finite, and counts that decrease or exceed `count`.
  Status addHistogram(std::string_view name, const Labels& labels,
                      const HistogramSnapshot& snapshot);

  // The exposition, ending with a line feed ("" when nothing was declared).
  std::string text() const;

  // Formats a sample value as the format wants it: shortest round-trip decimal, "+Inf", "-Inf",
  // "NaN".
  static std::string formatValue(double value);
  // Escapes a label value: backslash, double quote and line feed become \\, \" and \n.
  static std::string escapeLabelValue(std::string_view value);
  // Escapes HELP text: backslash and line feed become \\ and \n.
  static std::string escapeHelp(std::string_view help);

 private:
  struct Family {
    MetricType type;
    std::string help;
    // Labels -> the sample lines of that series, already formatted. A map keeps series in label
    // order and finds a repeated series.
    std::map<Labels, std::string> series;
  };

  // Files the formatted lines of one series under its declared family.
  Status addSeries(std::string_view name, const Labels& labels, bool histogram, std::string lines);
  Status checkLabels(std::string_view name, const Labels& labels, bool histogram) const;

  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace siteplane::metrics

#include "common/metrics/exposition_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace siteplane::metrics {
namespace {

constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};

bool isLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool validMetricName(std::string_view name) {
  if (name.empty() || isDigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isLetter(c) || isDigit(c) || c == '_' || c == ':'; });
}

// [a-zA-Z_][a-zA-Z0-9_]*, without the "__" prefix Prometheus reserves for itself.
bool validLabelName(std::string_view name) {
  if (name.empty() || isDigit(name[0]) || name.rfind("__", 0) == 0) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isLetter(c) || isDigit(c) || c == '_'; });
}

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Backslash and line feed always; the double quote only inside a label value, where it would end
// the value (HELP text runs to the end of its line).
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quote && c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// `name{a="1",b="2"} value\n`; `extra` is one more label (a histogram's le) appended last.
void appendLine(std::string& out, std::string_view name, const Labels& labels,
                const std::pair<std::string_view, std::string_view>* extra,
                std::string_view value) {
  out += name;
  if (!labels.empty() || extra) {
    out += '{';
    bool first = true;
    auto label = [&](std::string_view key, std::string_view text) {
      if (!first) out += ',';
      first = false;
      out += key;
      out += "=\"";
      out += ExpositionWriter::escapeLabelValue(text);
      out += '"';
    };
    for (const auto& [key, text] : labels) label(key, text);
    if (extra) label(extra->first, extra->second);
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

std::string ExpositionWriter::formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string ExpositionWriter::escapeLabelValue(std::string_view value) {
  return escape(value, true);
}

std::string ExpositionWriter::escapeHelp(std::string_view help) { return escape(help, false); }

Status ExpositionWriter::declare(std::string_view name, MetricType type, std::string_view help) {
  auto where = [&] { return "metric " + quoted(name); };
  if (!validMetricName(name))
    return Status::error(where() + ": the name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  if (auto found = families_.find(name); found != families_.end()) {
    if (found->second.type != type)
      return Status::error(where() + ": declared as a " + typeName(found->second.type) +
                           " already, now as a " + typeName(type));
    if (found->second.help != help)
      return Status::error(where() + ": declared already with other help text");
    return Status::ok();
  }
  // A histogram writes name_bucket, name_sum and name_count: no other family may own those.
  for (std::string_view suffix : kHistogramSuffixes) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      auto base = families_.find(name.substr(0, name.size() - suffix.size()));
      if (base != families_.end() && base->second.type == MetricType::kHistogram)
        return Status::error(where() + ": histogram " + quoted(base->first) +
                             " already writes series of that name");
    }
    if (type == MetricType::kHistogram &&
        families_.count(std::string(name) + std::string(suffix)) != 0)
      return Status::error(where() + ": the histogram's series " +
                           quoted(std::string(name) + std::string(suffix)) +
                           " is declared already as a family of its own");
  }
  families_.emplace(std::string(name), Family{type, std::string(help), {}});
  return Status::ok();
}

Status ExpositionWriter::checkLabels(std::string_view name, const Labels& labels,
                                     bool histogram) const {
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& key = labels[i].first;
    auto where = [&] { return "metric " + quoted(name) + ": label " + quoted(key); };
    if (!validLabelName(key))
      return Status::error(
          where() + ": the name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\"");
    if (histogram && key == "le") return Status::error(where() + ": a histogram adds le itself");
    // Labels are a handful: a quadratic scan is cheaper than building a set per sample.
    for (size_t j = 0; j < i; ++j)
      if (labels[j].first == key) return Status::error(where() + ": given twice");
  }
  return Status::ok();
}

Status ExpositionWriter::addSeries(std::string_view name, const Labels& labels, bool histogram,
                                   std::string lines) {
  auto found = families_.find(name);
  auto where = [&] { return "metric " + quoted(name); };
  if (found == families_.end()) return Status::error(where() + ": not declared");
  if ((found->second.type == MetricType::kHistogram) != histogram)
    return Status::error(where() + ": is a " + typeName(found->second.type) +
                         (histogram ? ", not a histogram" : "; add its series with addHistogram"));
  if (Status checked = checkLabels(name, labels, histogram); !checked) return checked;
  if (!found->second.series.emplace(labels, std::move(lines)).second) {
    std::string set;
    for (const auto& [key, value] : labels)
      set += (set.empty() ? "" : ",") + key + "=" + quoted(escapeLabelValue(value));
    return Status::error(where() + ": series {" + set + "} added twice");
  }
  return Status::ok();
}

Status ExpositionWriter::add(std::string_view name, const Labels& labels, double value) {
  auto found = families_.find(name);
  if (found != families_.end() && found->second.type == MetricType::kCounter &&
      !(value >= 0))  // also catches NaN
    return Status::error("metric " + quoted(name) + ": a counter cannot be " + formatValue(value));
  std::string line;
  appendLine(line, name, labels, nullptr, formatValue(value));
  return addSeries(name, labels, false, std::move(line));
}

Status ExpositionWriter::add(std::string_view name, const Labels& labels, uint64_t value) {
  std::string line;
  appendLine(line, name, labels, nullptr, std::to_string(value));
  return addSeries(name, labels, false, std::move(line));
}

Status ExpositionWriter::addHistogram(std::string_view name, const Labels& labels,
                                      const HistogramSnapshot& snapshot) {
  auto where = [&] { return "metric " + quoted(name); };
  const auto& bounds = snapshot.upperBounds;
  const auto& counts = snapshot.cumulativeCounts;
  if (counts.size() != bounds.size())
    return Status::error(where() + ": " + std::to_string(bounds.size()) + " bucket bounds but " +
                         std::to_string(counts.size()) + " counts");
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i])))
      return Status::error(where() + ": bucket bounds must be finite and strictly increasing (le=" +
                           formatValue(bounds[i]) + ")");
    if ((i > 0 && counts[i] < counts[i - 1]) || counts[i] > snapshot.count)
      return Status::error(where() + ": bucket le=" + formatValue(bounds[i]) + " counts " +
                           std::to_string(counts[i]) +
                           ", outside the counts of its neighbours and the total");
  }
  std::string lines;
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < bounds.size(); ++i) {
    std::string le = formatValue(bounds[i]);
    std::pair<std::string_view, std::string_view> extra{"le", le};
    appendLine(lines, bucket, labels, &extra, std::to_string(counts[i]));
  }
  std::pair<std::string_view, std::string_view> infinity{"le", "+Inf"};
  appendLine(lines, bucket, labels, &infinity, std::to_string(snapshot.count));
  appendLine(lines, std::string(name) + "_sum", labels, nullptr, formatValue(snapshot.sum));
  appendLine(lines, std::string(name) + "_count", labels, nullptr, std::to_string(snapshot.count));
  return addSeries(name, labels, true, std::move(lines));
}

std::string ExpositionWriter::text() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + escapeHelp(family.help) + "\n";
    out += "# TYPE " + name + " " + typeName(family.type) + "\n";
    for (const auto& [labels, lines] : family.series) out += lines;
  }
  return out;
}

}  // namespace siteplane::metrics

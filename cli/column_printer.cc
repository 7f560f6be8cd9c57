#include "cli/column_printer.h"

#include <algorithm>

namespace siteplane::cli {

void printColumns(std::ostream& out, const std::vector<std::vector<std::string>>& rows, size_t gap,
                  size_t indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line(indent, ' ');
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + gap, ' ');
    }
    out << line << "\n";
  }
}

}  // namespace siteplane::cli

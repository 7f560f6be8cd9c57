#pragma once

// Aligned text columns, as kubectl prints tables: each column padded to its widest cell.

#include <ostream>
#include <string>
#include <vector>

namespace siteplane::cli {

// Prints `rows` (the first is usually the header) with `gap` spaces between columns and `indent`
// spaces before each line. Rows may have different numbers of cells.
void printColumns(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                  size_t gap = 3, size_t indent = 0);

}  // namespace siteplane::cli

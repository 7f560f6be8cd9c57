#include "controller/api/diagnostic.h"

#include <algorithm>

namespace siteplane::api {

std::string Diagnostic::toString() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (position.known()) {
      out += ':';
      out += std::to_string(position.line);
      out += ':';
      out += std::to_string(position.column);
    }
    out += ": ";
  }
  if (!kind.empty()) {
    out += kind;
    if (!name.empty()) {
      out += " \"";
      out += name;
      out += '"';
    }
    out += ' ';
  }
  if (!path.empty()) {
    out += path;
    out += ": ";
  }
  out += message;
  return out;
}

void sortByPosition(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     if (a.file != b.file) return a.file < b.file;
                     if (a.position.known() != b.position.known()) return a.position.known();
                     return a.position < b.position;
                   });
}

}  // namespace siteplane::api

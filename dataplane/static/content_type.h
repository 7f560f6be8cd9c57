#pragma once

#include <string_view>

namespace siteplane::staticfiles {

// The Content-Type for a file name, chosen by its extension (case-insensitive): text types carry
// "; charset=utf-8"; unknown or missing extensions get "application/octet-stream" so browsers do
// not sniff and execute content. The returned view points into a static table.
std::string_view contentTypeFor(std::string_view fileName);

}  // namespace siteplane::staticfiles

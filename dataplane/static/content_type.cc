#include "dataplane/static/content_type.h"

#include <array>
#include <utility>

namespace siteplane::staticfiles {
namespace {

constexpr std::string_view kDefaultType = "application/octet-stream";

// Sorted by extension for binary search; the extension is lower-case without the dot.
constexpr std::array<std::pair<std::string_view, std::string_view>, 44> kTypes = {{
    {"7z", "application/x-7z-compressed"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"m4a", "audio/mp4"},
    {"manifest", "application/manifest+json"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
}};

constexpr bool sorted() {
  for (size_t i = 1; i < kTypes.size(); ++i) {
    if (!(kTypes[i - 1].first < kTypes[i].first)) return false;
  }
  return true;
}
static_assert(sorted(), "kTypes must stay sorted for the binary search");

// Longer than any extension in the table: such a name cannot match, so no buffer overflow check
// is needed beyond this.
constexpr size_t kMaxExtension = 16;

}  // namespace

std::string_view contentTypeFor(std::string_view fileName) {
  size_t slash = fileName.rfind('/');
  if (slash != std::string_view::npos) fileName.remove_prefix(slash + 1);
  size_t dot = fileName.rfind('.');
  // No dot, or a dotfile without extension (".profile").
  if (dot == std::string_view::npos || dot == 0) return kDefaultType;
  std::string_view extension = fileName.substr(dot + 1);
  if (extension.empty() || extension.size() > kMaxExtension) return kDefaultType;
  char lower[kMaxExtension];
  for (size_t i = 0; i < extension.size(); ++i) {
    char c = extension[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view key(lower, extension.size());
  size_t low = 0;
  size_t high = kTypes.size();
  while (low < high) {
    size_t middle = (low + high) / 2;
    if (kTypes[middle].first < key) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  if (low < kTypes.size() && kTypes[low].first == key) return kTypes[low].second;
  return kDefaultType;
}

}  // namespace siteplane::staticfiles

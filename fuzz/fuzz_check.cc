#include "fuzz/fuzz_check.h"

#include <stdlib.h>

#include <system_error>

namespace siteplane::fuzz {
namespace {

std::filesystem::path makeScratch() {
  std::error_code ec;
  auto base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string pattern = (base / "siteplane-fuzz-XXXXXX").string();
  FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp " + pattern);
  return pattern;
}

// Removed at exit: a crash (abort) leaves it behind for inspection, a clean run does not.
struct Scratch {
  std::filesystem::path path = makeScratch();
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

const std::filesystem::path& scratchDirectory() {
  static Scratch scratch;
  return scratch.path;
}

}  // namespace siteplane::fuzz

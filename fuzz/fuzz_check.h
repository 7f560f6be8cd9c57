#pragma once

// What the fuzz targets share: an invariant check that stops the run with a message (libFuzzer
// reports an abort() as a crash and saves the input; the corpus replay in `make test` fails on it),
// and a scratch directory for targets that need files.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

// Not assert(): the check must hold in the Release build the replay tests run in.
#define FUZZ_CHECK(condition, what)                                                              \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "%s:%d: invariant failed: %s (%s)\n", __FILE__, __LINE__, #condition, \
                   std::string(what).c_str());                                                   \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

namespace siteplane::fuzz {

// A fresh directory under $TMPDIR for the whole run, removed when the process exits normally.
// Created on first use (from the target's one-time setup), never per input.
const std::filesystem::path& scratchDirectory();

}  // namespace siteplane::fuzz

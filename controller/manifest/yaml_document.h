#pragma once

// YAML in and out, behind one interface so that yaml-cpp stays inside controller/manifest. Input
// is untrusted (files anyone can drop into the manifests directory, bodies of API requests): the
// reader caps size, nesting and alias expansion, and turns every yaml-cpp exception into an error
// with file:line:column. It never throws.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/diagnostic.h"

namespace siteplane::manifest {

struct YamlLimits {
  size_t maxBytes = size_t{8} << 20;  // per file / per input string
  int maxDepth = 64;                  // nested mappings and sequences
  // Nodes per document after alias expansion: bounds "billion laughs" (and alias cycles) while
  // leaving room for any real object, which has a few dozen nodes.
  size_t maxNodesPerDocument = 100000;
  // Nodes of all documents together, so that many small alias bombs cannot add up.
  size_t maxNodesPerInput = 2000000;
};

// One YAML document as JSON, plus where each of its nodes is in the text.
struct YamlDocument {
  nlohmann::json value;
  api::PositionMap positions;  // JSON pointer -> 1-based line:column
  api::Position start;         // where the document's root node starts
  size_t index = 0;            // 0-based among the non-empty documents of the input
};

struct YamlParseResult {
  std::vector<YamlDocument> documents;
  std::vector<api::Diagnostic> errors;  // empty when the whole input parsed
  bool ok() const { return errors.empty(); }
};

// Parses every document of `text` (YAML 1.2 core schema: null, booleans, integers and floats are
// recognised in plain scalars only; quoted scalars are strings). Empty documents are skipped.
// Rejected, each with its position: invalid UTF-8, syntax errors, duplicate keys, non-string keys,
// unsupported tags, integers beyond 64 bits, inputs over the limits. On any error, `documents` is
// empty: a file is accepted or rejected as a whole. `file` only labels the errors.
YamlParseResult parseYaml(std::string_view text, const std::string& file,
                          const YamlLimits& limits = {});

// Block-style YAML for a JSON value. Strings that would read back as another type ("true",
// "1.2", "null", "") are quoted, so parseYaml(emitYaml(v)) == v.
std::string emitYaml(const nlohmann::json& value);
// Several documents, each introduced by "---".
std::string emitYamlDocuments(const std::vector<nlohmann::json>& values);

}  // namespace siteplane::manifest

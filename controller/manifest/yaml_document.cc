#include "controller/manifest/yaml_document.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <sstream>

#include "controller/api/field_path.h"

namespace siteplane::manifest {
namespace {

constexpr const char* kTagStr = "tag:yaml.org,2002:str";
constexpr const char* kTagInt = "tag:yaml.org,2002:int";
constexpr const char* kTagFloat = "tag:yaml.org,2002:float";
constexpr const char* kTagBool = "tag:yaml.org,2002:bool";
constexpr const char* kTagNull = "tag:yaml.org,2002:null";
constexpr const char* kTagMap = "tag:yaml.org,2002:map";
constexpr const char* kTagSeq = "tag:yaml.org,2002:seq";

api::Position toPosition(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

// yaml-cpp 0.7 (Debian bookworm) can get stuck on malformed input (a plain scalar starting with
// ',' in block context, e.g. a file that is just ","): its parser then reports the same empty
// document again and again without consuming input, and LoadAll collects them until memory runs
// out (upstream yaml-cpp PRs 1318/1319). Its NodeBuilder is private, so LoadAll cannot be bounded
// from outside; this event-only pass (no nodes built, about a third of LoadAll's time) finds the
// first document that starts where the previous one did, which valid YAML never does.
class ProgressCheck final : public YAML::EventHandler {
 public:
  // The mark where the parser got stuck, or nullopt when every document made progress.
  static std::optional<YAML::Mark> findStall(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    ProgressCheck check;
    while (!check.stalled_ && parser.HandleNextDocument(check)) {
    }
    if (check.stalled_) return check.last_;
    return std::nullopt;
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (started_ && mark.pos <= last_.pos) stalled_ = true;
    started_ = true;
    last_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  bool started_ = false;
  bool stalled_ = false;
  YAML::Mark last_ = YAML::Mark::null_mark();
};

// The first byte offset that is not valid UTF-8 or is a control character YAML forbids
// (everything below 0x20 except tab, LF and CR, and DEL), or npos.
size_t findInvalidByte(std::string_view text, std::string& why) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
        char buffer[64];
        std::snprintf(buffer, sizeof buffer, "control character 0x%02X is not allowed", c);
        why = buffer;
        return i;
      }
      ++i;
      continue;
    }
    // 0x80-0xC1 and 0xF5-0xFF never start a sequence (continuation bytes, overlong, > U+10FFFF).
    size_t length = c >= 0xf0 && c <= 0xf4  ? 4
                    : c >= 0xe0 && c < 0xf0 ? 3
                    : c >= 0xc2 && c < 0xe0 ? 2
                                            : 0;
    bool ok = length != 0 && i + length <= text.size();
    for (size_t k = 1; ok && k < length; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    }
    if (ok && length == 3) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
    }
    if (ok && length == 4) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);  // overlong, > U+10FFFF
    }
    if (!ok) {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "invalid UTF-8 (byte 0x%02X)", c);
      why = buffer;
      return i;
    }
    i += length;
  }
  return std::string_view::npos;
}

api::Position positionOfOffset(std::string_view text, size_t offset) {
  api::Position position{1, 1};
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++position.line;
      position.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      ++position.column;  // count characters, not continuation bytes
    }
  }
  return position;
}

bool isDigits(std::string_view text, bool hex = false) {
  if (text.empty()) return false;
  for (char c : text) {
    bool digit = c >= '0' && c <= '9';
    bool hexLetter = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!digit && !(hex && hexLetter)) return false;
  }
  return true;
}

struct Resolved {
  nlohmann::json value;
  std::string error;  // set when the scalar looks like a number but cannot be represented
};

// YAML 1.2 core schema resolution of a plain scalar.
Resolved resolvePlain(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return {nullptr, {}};
  }
  if (text == "true" || text == "True" || text == "TRUE") return {true, {}};
  if (text == "false" || text == "False" || text == "FALSE") return {false, {}};

  std::string_view body = text;
  bool negative = false;
  if (body.front() == '-' || body.front() == '+') {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  int base = 0;
  std::string_view digits;
  if (isDigits(body)) {
    base = 10;
    digits = body;
  } else if (text.size() > 2 && text[0] == '0' && text[1] == 'o' && isDigits(text.substr(2))) {
    base = 8;
    digits = std::string_view(text).substr(2);
    for (char c : digits) {
      if (c > '7') base = 0;
    }
  } else if (text.size() > 2 && text[0] == '0' && text[1] == 'x' &&
             isDigits(text.substr(2), true)) {
    base = 16;
    digits = std::string_view(text).substr(2);
  }
  if (base != 0) {
    uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
    uint64_t limit = negative ? uint64_t{1} << 63 : std::numeric_limits<int64_t>::max();
    if (ec != std::errc() || end != digits.data() + digits.size() || magnitude > limit) {
      return {text, "integer " + text + " does not fit in 64 bits"};
    }
    if (negative) {
      return {magnitude == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min()
                                               : -static_cast<int64_t>(magnitude),
              {}};
    }
    return {static_cast<int64_t>(magnitude), {}};
  }

  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    double infinity = std::numeric_limits<double>::infinity();
    return {negative ? -infinity : infinity, {}};
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return {std::numeric_limits<double>::quiet_NaN(), {}};
  }
  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  size_t i = 0;
  size_t intDigits = 0, fracDigits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++intDigits;
  bool dot = i < body.size() && body[i] == '.';
  if (dot) {
    ++i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++fracDigits;
  }
  bool mantissa = intDigits > 0 || fracDigits > 0;
  bool exponent = false;
  if (mantissa && i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    size_t j = i + 1;
    if (j < body.size() && (body[j] == '-' || body[j] == '+')) ++j;
    size_t start = j;
    while (j < body.size() && body[j] >= '0' && body[j] <= '9') ++j;
    exponent = j > start;
    if (exponent) i = j;
  }
  if (mantissa && i == body.size() && (dot || exponent)) {
    return {std::strtod(text.c_str(), nullptr), {}};
  }
  return {text, {}};
}

class Converter {
 public:
  Converter(const YamlLimits& limits, const std::string& file, size_t& inputNodes,
            std::vector<api::Diagnostic>& errors)
      : limits_(limits), file_(file), inputNodes_(inputNodes), errors_(errors) {}

  // Converts one document; false when a limit stopped it (the error is recorded).
  bool convert(const YAML::Node& root, YamlDocument& document) {
    positions_ = &document.positions;
    documentNodes_ = 0;
    document.value = convertNode(root, "", toPosition(root.Mark()), 1);
    return !aborted_;
  }

 private:
  void error(api::Position position, std::string message) {
    errors_.push_back(api::Diagnostic{file_, position, "", "", "", std::move(message)});
  }

  void abort(api::Position position, std::string message) {
    if (!aborted_) error(position, std::move(message));
    aborted_ = true;
  }

  nlohmann::json convertNode(const YAML::Node& node, const std::string& pointer,
                             api::Position keyPosition, int depth) {
    if (aborted_) return nullptr;
    api::Position position = toPosition(node.Mark());
    // An empty value ("port:") has no text of its own; yaml-cpp marks it at the next token.
    if (node.IsNull() || !position.known()) position = keyPosition;
    if (++documentNodes_ > limits_.maxNodesPerDocument ||
        ++inputNodes_ > limits_.maxNodesPerInput) {
      abort(position, "document too large: more than " +
                          std::to_string(documentNodes_ > limits_.maxNodesPerDocument
                                             ? limits_.maxNodesPerDocument
                                             : limits_.maxNodesPerInput) +
                          " nodes after expanding aliases");
      return nullptr;
    }
    if (depth > limits_.maxDepth) {
      abort(position, "nesting deeper than " + std::to_string(limits_.maxDepth) + " levels");
      return nullptr;
    }
    (*positions_)[pointer] = api::SourcePosition{keyPosition, position};

    const std::string& tag = node.Tag();
    switch (node.Type()) {
      case YAML::NodeType::Null:
        return tag == kTagStr ? nlohmann::json("") : nlohmann::json(nullptr);
      case YAML::NodeType::Scalar:
        return convertScalar(node, position);
      case YAML::NodeType::Sequence: {
        if (!tag.empty() && tag != "?" && tag != "!" && tag != kTagSeq) {
          error(position, "unsupported tag \"" + tag + "\"");
        }
        nlohmann::json out = nlohmann::json::array();
        size_t index = 0;
        for (const auto& child : node) {
          out.push_back(convertNode(child, pointer + "/" + std::to_string(index++),
                                    toPosition(child.Mark()), depth + 1));
          if (aborted_) break;
        }
        return out;
      }
      case YAML::NodeType::Map: {
        if (!tag.empty() && tag != "?" && tag != "!" && tag != kTagMap) {
          error(position, "unsupported tag \"" + tag + "\"");
        }
        nlohmann::json out = nlohmann::json::object();
        for (auto it = node.begin(); it != node.end() && !aborted_; ++it) {
          // Copies: the iterator's pair is a temporary proxy.
          YAML::Node key = it->first;
          YAML::Node child = it->second;
          api::Position keyAt = toPosition(key.Mark());
          if (!keyAt.known()) keyAt = position;
          if (!key.IsScalar()) {
            error(keyAt, "mapping keys must be strings, got a " +
                             std::string(key.IsMap()        ? "mapping"
                                         : key.IsSequence() ? "sequence"
                                                            : "null"));
            continue;
          }
          const std::string& name = key.Scalar();
          std::string childPointer = pointer + "/" + api::escapePointerToken(name);
          if (out.contains(name)) {
            auto first = positions_->find(childPointer);
            std::string where =
                first != positions_->end()
                    ? " (first defined at line " + std::to_string(first->second.key.line) + ")"
                    : "";
            error(keyAt, "duplicate key \"" + name + "\"" + where);
            continue;
          }
          out[name] = convertNode(child, childPointer, keyAt, depth + 1);
        }
        return out;
      }
      case YAML::NodeType::Undefined:
        break;
    }
    error(position, "undefined node");
    return nullptr;
  }

  nlohmann::json convertScalar(const YAML::Node& node, api::Position position) {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == "!" || tag == kTagStr) return text;  // quoted, block or explicitly a string
    Resolved resolved = resolvePlain(text);
    if (!resolved.error.empty()) {
      error(position, resolved.error);
      return text;
    }
    if (tag == "?" || tag.empty()) return resolved.value;
    auto mismatch = [&](const char* what) {
      error(position, "\"" + text + "\" is not a valid " + what);
      return nlohmann::json(text);
    };
    if (tag == kTagInt)
      return resolved.value.is_number_integer() ? resolved.value : mismatch("!!int");
    if (tag == kTagFloat) {
      if (resolved.value.is_number()) return resolved.value.get<double>();
      return mismatch("!!float");
    }
    if (tag == kTagBool) return resolved.value.is_boolean() ? resolved.value : mismatch("!!bool");
    if (tag == kTagNull) return resolved.value.is_null() ? resolved.value : mismatch("!!null");
    error(position, "unsupported tag \"" + tag + "\"");
    return text;
  }

  const YamlLimits& limits_;
  const std::string& file_;
  size_t& inputNodes_;
  std::vector<api::Diagnostic>& errors_;
  api::PositionMap* positions_ = nullptr;
  size_t documentNodes_ = 0;
  bool aborted_ = false;
};

bool needsQuotes(const std::string& text) {
  if (text.empty()) return true;
  if (!resolvePlain(text).value.is_string()) return true;
  // Leading/trailing blanks would be trimmed from a plain scalar.
  if (text.front() == ' ' || text.back() == ' ' || text.front() == '\t' || text.back() == '\t')
    return true;
  // A line break or other control character in a plain scalar is folded or trimmed when read
  // back ("a\r" came back as "a"); a double-quoted one keeps it as an escape.
  return std::any_of(text.begin(), text.end(),
                     [](unsigned char c) { return c < 0x20 && c != '\t'; });
}

void emit(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [key, child] : value.items()) {
        out << YAML::Key;
        if (needsQuotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit(out, child);
      }
      out << YAML::EndMap;
      return;
    case nlohmann::json::value_t::array:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& child : value) emit(out, child);
      out << YAML::EndSeq;
      return;
    case nlohmann::json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (needsQuotes(text)) out << YAML::DoubleQuoted;
      out << text;
      return;
    }
    case nlohmann::json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      return;
    case nlohmann::json::value_t::number_integer:
      out << value.get<int64_t>();
      return;
    case nlohmann::json::value_t::number_unsigned:
      out << value.get<uint64_t>();
      return;
    case nlohmann::json::value_t::number_float: {
      double number = value.get<double>();
      if (std::isnan(number)) {
        out << ".nan";
      } else if (std::isinf(number)) {
        out << (number > 0 ? ".inf" : "-.inf");
      } else {
        // nlohmann prints the shortest text that reads back as the same double, always with a
        // '.' or exponent so that it stays a float.
        out << value.dump();
      }
      return;
    }
    default:
      out << YAML::Null;
      return;
  }
}

}  // namespace

YamlParseResult parseYaml(std::string_view text, const std::string& file,
                          const YamlLimits& limits) {
  YamlParseResult result;
  if (text.size() > limits.maxBytes) {
    result.errors.push_back({file,
                             {},
                             "",
                             "",
                             "",
                             "input too large: " + std::to_string(text.size()) +
                                 " bytes, the limit is " + std::to_string(limits.maxBytes)});
    return result;
  }
  std::string why;
  if (size_t bad = findInvalidByte(text, why); bad != std::string_view::npos) {
    result.errors.push_back({file, positionOfOffset(text, bad), "", "", "", why});
    return result;
  }

  std::vector<YAML::Node> nodes;
  try {
    std::string input(text);
    if (auto stall = ProgressCheck::findStall(input)) {
      result.errors.push_back({file, toPosition(*stall), "", "", "",
                               "invalid YAML: the parser stopped making progress"});
      return result;
    }
    nodes = YAML::LoadAll(input);
  } catch (const YAML::Exception& e) {
    result.errors.push_back({file, toPosition(e.mark), "", "", "", "invalid YAML: " + e.msg});
    return result;
  } catch (const std::exception& e) {
    // yaml-cpp can surface std::bad_alloc and friends; this adapter is where they stop.
    result.errors.push_back({file, {}, "", "", "", std::string("invalid YAML: ") + e.what()});
    return result;
  }

  size_t inputNodes = 0;
  try {
    for (const auto& node : nodes) {
      // "---" followed by nothing (or only comments) is an empty document: skip it.
      if (node.IsNull() && node.Tag().empty()) continue;
      YamlDocument document;
      document.index = result.documents.size();
      document.start = toPosition(node.Mark());
      Converter converter(limits, file, inputNodes, result.errors);
      bool complete = converter.convert(node, document);
      result.documents.push_back(std::move(document));
      if (!complete) break;
    }
  } catch (const std::exception& e) {
    result.errors.push_back({file, {}, "", "", "", std::string("invalid YAML: ") + e.what()});
  }
  if (!result.errors.empty()) result.documents.clear();
  return result;
}

std::string emitYaml(const nlohmann::json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emit(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

std::string emitYamlDocuments(const std::vector<nlohmann::json>& values) {
  std::string out;
  for (const auto& value : values) out += "---\n" + emitYaml(value);
  return out;
}

}  // namespace siteplane::manifest

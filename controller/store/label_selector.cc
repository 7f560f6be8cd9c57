#include "controller/store/label_selector.h"

#include <algorithm>

namespace siteplane::store {
namespace {

constexpr size_t kMaxNameLength = 63;
constexpr size_t kMaxPrefixLength = 253;

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The shared shape of a label name and a non-empty label value.
bool isQualifiedNamePart(std::string_view text) {
  if (text.empty() || text.size() > kMaxNameLength) return false;
  if (!isAlnum(text.front()) || !isAlnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A DNS-1123 subdomain: dot-separated lower-case labels.
bool isDnsSubdomain(std::string_view text) {
  if (text.empty() || text.size() > kMaxPrefixLength) return false;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string_view label = text.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty()) return false;
    auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!lowerAlnum(label.front()) || !lowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!lowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Characters that end a key or value token.
bool isDelimiter(char c) {
  return isSpace(c) || c == '!' || c == '=' || c == '(' || c == ')' || c == ',';
}

// A recursive-descent parser over the selector text that reports the column of the first error.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::vector<LabelSelector::Requirement>> parse() {
    std::vector<LabelSelector::Requirement> requirements;
    skipSpaces();
    if (atEnd()) return requirements;
    while (true) {
      auto requirement = parseRequirement();
      if (!requirement) return requirement.status();
      requirements.push_back(std::move(requirement).value());
      skipSpaces();
      if (atEnd()) return requirements;
      if (text_[pos_] != ',') return fail("expected ',' or the end of the selector");
      ++pos_;
    }
  }

 private:
  using Operator = LabelSelector::Operator;

  Result<LabelSelector::Requirement> parseRequirement() {
    LabelSelector::Requirement requirement;
    skipSpaces();
    bool negated = false;
    if (!atEnd() && text_[pos_] == '!') {
      negated = true;
      ++pos_;
      skipSpaces();
    }
    size_t keyStart = pos_;
    requirement.key = token();
    if (requirement.key.empty()) return fail("expected a label key");
    if (!isValidLabelKey(requirement.key)) {
      return failAt(keyStart, "\"" + requirement.key + "\" is not a valid label key");
    }
    skipSpaces();
    if (negated) {
      requirement.op = Operator::kDoesNotExist;
      return requirement;
    }
    if (atEnd() || text_[pos_] == ',') {
      requirement.op = Operator::kExists;
      return requirement;
    }
    if (text_.substr(pos_, 2) == "==" || text_.substr(pos_, 2) == "!=") {
      requirement.op = text_[pos_] == '!' ? Operator::kNotEquals : Operator::kEquals;
      pos_ += 2;
    } else if (text_[pos_] == '=') {
      requirement.op = Operator::kEquals;
      ++pos_;
    } else {
      size_t operatorStart = pos_;
      std::string word = token();
      if (word == "in") {
        requirement.op = Operator::kIn;
      } else if (word == "notin") {
        requirement.op = Operator::kNotIn;
      } else {
        return failAt(operatorStart,
                      "expected one of =, ==, !=, in, notin after \"" + requirement.key + "\"");
      }
      auto values = parseValueSet();
      if (!values) return values.status();
      requirement.values = std::move(values).value();
      return requirement;
    }
    skipSpaces();
    size_t valueStart = pos_;
    std::string value = token();
    if (!isValidLabelValue(value)) {
      return failAt(valueStart, "\"" + value + "\" is not a valid label value");
    }
    requirement.values.push_back(std::move(value));
    return requirement;
  }

  Result<std::vector<std::string>> parseValueSet() {
    skipSpaces();
    if (atEnd() || text_[pos_] != '(') return fail("expected '(' to open the value set");
    ++pos_;
    std::vector<std::string> values;
    while (true) {
      skipSpaces();
      size_t valueStart = pos_;
      std::string value = token();
      if (!isValidLabelValue(value)) {
        return failAt(valueStart, "\"" + value + "\" is not a valid label value");
      }
      skipSpaces();
      if (atEnd()) return fail("expected ')' to close the value set");
      if (value.empty() && text_[pos_] == ')' && values.empty()) {
        return fail("the value set of in/notin must not be empty");
      }
      values.push_back(std::move(value));
      if (text_[pos_] == ')') {
        ++pos_;
        return values;
      }
      if (text_[pos_] != ',') return fail("expected ',' or ')' in the value set");
      ++pos_;
    }
  }

  std::string token() {
    size_t start = pos_;
    while (!atEnd() && !isDelimiter(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  void skipSpaces() {
    while (!atEnd() && isSpace(text_[pos_])) ++pos_;
  }
  bool atEnd() const { return pos_ >= text_.size(); }

  Status fail(const std::string& message) const { return failAt(pos_, message); }
  Status failAt(size_t position, const std::string& message) const {
    return Status::error(ErrorCode::kInvalid, "label selector \"" + std::string(text_) +
                                                  "\": column " + std::to_string(position + 1) +
                                                  ": " + message);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

const std::string* labelValue(const nlohmann::json& labels, const std::string& key) {
  if (!labels.is_object()) return nullptr;
  auto found = labels.find(key);
  if (found == labels.end() || !found->is_string()) return nullptr;
  return found->get_ptr<const std::string*>();
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  auto requirements = Parser(text).parse();
  if (!requirements) return requirements.status();
  LabelSelector selector;
  selector.requirements_ = std::move(requirements).value();
  return selector;
}

bool LabelSelector::matches(const nlohmann::json& labels) const {
  for (const auto& requirement : requirements_) {
    const std::string* value = labelValue(labels, requirement.key);
    const auto& values = requirement.values;
    bool listed = value && std::find(values.begin(), values.end(), *value) != values.end();
    bool holds = false;
    switch (requirement.op) {
      case Operator::kEquals:
      case Operator::kIn:
        holds = listed;
        break;
      case Operator::kNotEquals:
      case Operator::kNotIn:
        holds = !listed;
        break;
      case Operator::kExists:
        holds = value != nullptr;
        break;
      case Operator::kDoesNotExist:
        holds = value == nullptr;
        break;
    }
    if (!holds) return false;
  }
  return true;
}

bool LabelSelector::matchesObject(const nlohmann::json& object) const {
  if (empty()) return true;
  static const nlohmann::json kNoLabels;
  if (!object.is_object()) return matches(kNoLabels);
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return matches(kNoLabels);
  auto labels = metadata->find("labels");
  return matches(labels == metadata->end() ? kNoLabels : *labels);
}

bool isValidLabelKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return isQualifiedNamePart(key);
  return isDnsSubdomain(key.substr(0, slash)) && isQualifiedNamePart(key.substr(slash + 1));
}

bool isValidLabelValue(std::string_view value) {
  return value.empty() || isQualifiedNamePart(value);
}

}  // namespace siteplane::store

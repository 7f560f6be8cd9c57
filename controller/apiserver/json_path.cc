#include "controller/apiserver/json_path.h"

#include <cctype>

namespace siteplane::apiserver {
namespace {

using Step = JsonPath::Step;

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '$' ||
         c == '/';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Status parse(std::vector<Step>& steps) {
    skipSpaces();
    if (peek() == '$') ++pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '.') {
        ++pos_;
        if (peek() == '.') return fail("recursive descent '..' is not supported");
        if (peek() == '*') {
          ++pos_;
          steps.push_back(Step{Step::Kind::kWildcard, "", 0, {}});
          continue;
        }
        std::string name = readName();
        if (name.empty()) {
          if (pos_ == text_.size()) break;  // "." alone selects the object itself
          return fail("expected a field name");
        }
        steps.push_back(Step{Step::Kind::kField, name, 0, {}});
      } else if (c == '[') {
        ++pos_;
        Status status = parseBracket(steps);
        if (!status) return status;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else {
        return fail(std::string("unexpected '") + c + "'");
      }
    }
    return Status::ok();
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skipSpaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  Status fail(const std::string& message) const {
    return Status::error("invalid JSONPath \"" + std::string(text_) + "\" at offset " +
                         std::to_string(pos_) + ": " + message);
  }
  std::string readName() {
    size_t start = pos_;
    while (pos_ < text_.size() && isNameChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  bool readQuoted(std::string& out) {
    char quote = peek();
    if (quote != '\'' && quote != '"') return false;
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      out.push_back(text_[pos_++]);
    }
    if (pos_ == text_.size()) return false;
    ++pos_;
    return true;
  }
  Status expect(char c) {
    skipSpaces();
    if (peek() != c) return fail(std::string("expected '") + c + "'");
    ++pos_;
    return Status::ok();
  }

  Status parseBracket(std::vector<Step>& steps) {
    skipSpaces();
    char c = peek();
    if (c == '*') {
      ++pos_;
      steps.push_back(Step{Step::Kind::kWildcard, "", 0, {}});
      return expect(']');
    }
    if (c == '\'' || c == '"') {
      std::string name;
      if (!readQuoted(name)) return fail("unterminated quoted name");
      steps.push_back(Step{Step::Kind::kField, name, 0, {}});
      return expect(']');
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t start = pos_;
      ++pos_;
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
      if (peek() == ':') return fail("slices are not supported");
      steps.push_back(Step{
          Step::Kind::kIndex, "", std::stol(std::string(text_.substr(start, pos_ - start))), {}});
      return expect(']');
    }
    if (c == '?') {
      ++pos_;
      Status status = expect('(');
      if (!status) return status;
      skipSpaces();
      if (peek() != '@') return fail("a filter starts with '@'");
      ++pos_;
      Step step{Step::Kind::kFilter, "", 0, {}};
      while (peek() == '.') {
        ++pos_;
        std::string name = readName();
        if (name.empty()) return fail("expected a field name in the filter");
        step.filter.field.push_back(name);
      }
      skipSpaces();
      static const char* kOps[] = {"==", "!=", "<=", ">=", "<", ">"};
      for (const char* op : kOps) {
        if (text_.substr(pos_).starts_with(op)) {
          step.filter.op = op;
          pos_ += step.filter.op.size();
          break;
        }
      }
      if (!step.filter.op.empty()) {
        skipSpaces();
        std::string literal;
        if (peek() == '\'' || peek() == '"') {
          if (!readQuoted(literal)) return fail("unterminated string in the filter");
          step.filter.literal = literal;
        } else {
          size_t start = pos_;
          while (pos_ < text_.size() && text_[pos_] != ')' &&
                 !std::isspace(static_cast<unsigned char>(text_[pos_]))) {
            ++pos_;
          }
          std::string word(text_.substr(start, pos_ - start));
          step.filter.literal = nlohmann::json::parse(word, nullptr, false);
          if (step.filter.literal.is_discarded()) {
            return fail("the filter compares with \"" + word + "\", which is not a literal");
          }
        }
      }
      status = expect(')');
      if (!status) return status;
      steps.push_back(std::move(step));
      return expect(']');
    }
    return fail("expected an index, '*', a quoted name or a filter");
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool compare(const nlohmann::json& value, const std::string& op, const nlohmann::json& literal) {
  if (op.empty()) return !value.is_null();
  if (op == "==") return value == literal;
  if (op == "!=") return value != literal;
  if (value.is_number() && literal.is_number()) {
    double a = value.get<double>();
    double b = literal.get<double>();
    if (op == "<") return a < b;
    if (op == "<=") return a <= b;
    if (op == ">") return a > b;
    if (op == ">=") return a >= b;
  }
  return false;
}

}  // namespace

Result<JsonPath> JsonPath::parse(std::string_view expression) {
  std::string_view text = expression;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty()) return Result<JsonPath>::error("empty JSONPath");
  JsonPath path;
  Parser parser(text);
  Status status = parser.parse(path.steps_);
  if (!status) return status;
  return path;
}

std::vector<nlohmann::json> JsonPath::evaluate(const nlohmann::json& root) const {
  std::vector<const nlohmann::json*> current{&root};
  for (const auto& step : steps_) {
    std::vector<const nlohmann::json*> next;
    for (const nlohmann::json* node : current) {
      switch (step.kind) {
        case Step::Kind::kField:
          if (node->is_object()) {
            auto it = node->find(step.field);
            if (it != node->end()) next.push_back(&*it);
          }
          break;
        case Step::Kind::kIndex:
          if (node->is_array()) {
            long size = static_cast<long>(node->size());
            long index = step.index < 0 ? size + step.index : step.index;
            if (index >= 0 && index < size) next.push_back(&(*node)[static_cast<size_t>(index)]);
          }
          break;
        case Step::Kind::kWildcard:
          if (node->is_array() || node->is_object()) {
            for (const auto& child : *node) next.push_back(&child);
          }
          break;
        case Step::Kind::kFilter:
          if (node->is_array()) {
            for (const auto& child : *node) {
              const nlohmann::json* value = &child;
              for (const auto& name : step.filter.field) {
                if (!value->is_object() || !value->contains(name)) {
                  value = nullptr;
                  break;
                }
                value = &(*value)[name];
              }
              if (value && compare(*value, step.filter.op, step.filter.literal)) {
                next.push_back(&child);
              }
            }
          }
          break;
      }
    }
    current = std::move(next);
  }
  std::vector<nlohmann::json> out;
  out.reserve(current.size());
  for (const nlohmann::json* node : current) out.push_back(*node);
  return out;
}

}  // namespace siteplane::apiserver

#include "core/check_expr.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include "core/schema.hpp"

namespace lumbung::core {

enum class NodeKind {
  kLiteral,
  kColumn,
  kNegate,
  kNot,
  kAnd,
  kOr,
  kCompare,  // name: "=", "<>", "<", "<=", ">", ">="
  kArith,    // name: "+", "-", "*", "/"
  kConcat,
  kIsNull,   // negated: IS NOT NULL
  kIn,       // args: operand, then the literals
  kBetween,  // args: operand, low, high
  kLike,
  kGlob,
  kFunction,  // name: the function, lower case
};

struct ExprNode {
  NodeKind kind;
  std::string name;      // operator, column or function
  bool negated = false;  // NOT IN, NOT BETWEEN, NOT LIKE, NOT GLOB, IS NOT NULL
  Value literal;
  std::vector<std::shared_ptr<const ExprNode>> args;
  int height = 1;  // of the tree below, bounded so that rendering and evaluation cannot overflow
  std::size_t offset = 0;  // of the operator in the text (AND, OR, NOT)
};

namespace {

using NodePtr = std::shared_ptr<const ExprNode>;

// A hostile file must not overflow the stack: parentheses and prefixes nest at
// most kMaxDepth deep, and no tree (also "a + a + a ...") is taller than kMaxHeight.
constexpr int kMaxDepth = 64;
constexpr int kMaxHeight = 256;

// ---------------------------------------------------------------------------
// Tokens

enum class Tok { kEnd, kInteger, kReal, kString, kIdent, kQuotedIdent, kOp };

struct Token {
  Tok kind;
  std::string text;  // unescaped for strings and quoted identifiers
  std::size_t offset;
};

struct ParseError {
  std::size_t offset;
  std::string message;
};

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// A character for a message: printable ASCII as is, anything else as \xNN.
std::string shown_char(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, c);
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
  return buf;
}

// Reads a quoted run starting at text[pos] == quote; a doubled quote is one.
std::string read_quoted(std::string_view text, std::size_t& pos, const char* what) {
  const std::size_t start = pos;
  std::string out;
  for (++pos; pos < text.size(); ++pos) {
    if (text[pos] == '\0') throw ParseError{pos, "NUL character in " + std::string(what)};
    if (text[pos] != text[start]) {
      out += text[pos];
    } else if (pos + 1 < text.size() && text[pos + 1] == text[start]) {
      out += text[pos++];
    } else {
      ++pos;
      return out;
    }
  }
  throw ParseError{start, "unterminated " + std::string(what)};
}

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    const std::size_t start = pos;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      ++pos;
    } else if (is_digit(c) || (c == '.' && pos + 1 < text.size() && is_digit(text[pos + 1]))) {
      bool real = false;
      while (pos < text.size() && is_digit(text[pos])) ++pos;
      if (pos < text.size() && text[pos] == '.') {
        real = true;
        ++pos;
        while (pos < text.size() && is_digit(text[pos])) ++pos;
      }
      if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
        real = true;
        ++pos;
        if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
        if (pos >= text.size() || !is_digit(text[pos])) throw ParseError{start, "malformed number"};
        while (pos < text.size() && is_digit(text[pos])) ++pos;
      }
      if (pos < text.size() && (is_ident_char(text[pos]) || text[pos] == '.')) {
        throw ParseError{start, "malformed number"};
      }
      tokens.push_back(
          {real ? Tok::kReal : Tok::kInteger, std::string(text.substr(start, pos - start)), start});
    } else if (is_ident_start(c)) {
      while (pos < text.size() && is_ident_char(text[pos])) ++pos;
      tokens.push_back({Tok::kIdent, std::string(text.substr(start, pos - start)), start});
    } else if (c == '\'') {
      tokens.push_back({Tok::kString, read_quoted(text, pos, "string"), start});
    } else if (c == '"') {
      tokens.push_back({Tok::kQuotedIdent, read_quoted(text, pos, "quoted name"), start});
    } else {
      static constexpr std::string_view kTwo[] = {"==", "!=", "<>", "<=", ">=", "||"};
      static constexpr std::string_view kOne = "=<>+-*/(),";
      std::string_view two = text.substr(pos, 2);
      bool found = false;
      for (std::string_view op : kTwo) {
        if (two == op) {
          tokens.push_back({Tok::kOp, std::string(op), start});
          pos += 2;
          found = true;
          break;
        }
      }
      if (found) continue;
      if (two == "--" || two == "/*") throw ParseError{start, "comments are not allowed"};
      if (kOne.find(c) == std::string_view::npos) {
        throw ParseError{start, "unexpected character '" + shown_char(c) + "'"};
      }
      tokens.push_back({Tok::kOp, std::string(1, c), start});
      ++pos;
    }
  }
  tokens.push_back({Tok::kEnd, "", text.size()});
  return tokens;
}

// ---------------------------------------------------------------------------
// Parser: recursive descent with SQLite's precedence, lowest first:
// OR; AND; NOT; = == != <> IS IN BETWEEN LIKE GLOB; < <= > >=; + -; * /; ||; unary -.

struct Function {
  std::string_view name;
  std::size_t min_args;
  std::size_t max_args;
};
constexpr Function kFunctions[] = {{"length", 1, 1}, {"lower", 1, 1}, {"upper", 1, 1},
                                   {"typeof", 1, 1}, {"abs", 1, 1},   {"substr", 2, 3}};

// Words of the grammar: never column names unless double-quoted.
bool is_keyword(std::string_view word) {
  static constexpr std::string_view kWords[] = {"and", "or",      "not",  "is",  "null",
                                                "in",  "between", "like", "glob"};
  for (std::string_view k : kWords) {
    if (word == k) return true;
  }
  return false;
}

// SQL an author may try that this language deliberately leaves out.
bool is_unsupported_sql(std::string_view word) {
  static constexpr std::string_view kWords[] = {"select",  "exists", "case",   "cast",
                                                "collate", "escape", "regexp", "match"};
  for (std::string_view k : kWords) {
    if (word == k) return true;
  }
  return false;
}

NodePtr make_literal(Value v) {
  auto node = std::make_shared<ExprNode>();
  node->kind = NodeKind::kLiteral;
  node->literal = std::move(v);
  return node;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::vector<std::string>& columns,
         const std::vector<std::string>& blob_columns)
      : tokens_(std::move(tokens)), columns_(columns), blob_columns_(blob_columns) {}

  NodePtr parse_all() {
    NodePtr root = parse_or();
    if (peek().kind != Tok::kEnd) unexpected();
    check_conditions(*root, true);
    return root;
  }

 private:
  // Counts nesting on the way down, so that "((((..." fails cleanly.
  class Depth {
   public:
    explicit Depth(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) {
        throw ParseError{p_.peek().offset, "expression nested too deeply"};
      }
    }
    ~Depth() { --p_.depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;

   private:
    Parser& p_;
  };

  const Token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(std::string_view op, std::size_t ahead = 0) const {
    return peek(ahead).kind == Tok::kOp && peek(ahead).text == op;
  }
  bool is_word(std::string_view word) const {
    return peek().kind == Tok::kIdent && lower(peek().text) == word;
  }
  bool accept_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_word(std::string_view word) {
    if (!is_word(word)) return false;
    next();
    return true;
  }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) unexpected("expected '" + std::string(op) + "'");
  }

  [[noreturn]] void unexpected(const std::string& expected = "") const {
    const Token& t = peek();
    const std::string got = t.kind == Tok::kEnd ? "end of expression" : token_text(t);
    throw ParseError{t.offset, expected.empty() ? "unexpected " + got : expected + ", got " + got};
  }

  std::shared_ptr<ExprNode> make(NodeKind kind, std::string name, std::vector<NodePtr> args,
                                 bool negated = false) {
    auto node = std::make_shared<ExprNode>();
    node->kind = kind;
    node->name = std::move(name);
    node->negated = negated;
    for (const NodePtr& a : args) node->height = std::max(node->height, a->height + 1);
    if (node->height > kMaxHeight) throw ParseError{peek().offset, "expression too long"};
    node->args = std::move(args);
    return node;
  }

  // A token as a message shows it: quoted as in the text, words in single quotes.
  static std::string token_text(const Token& t) {
    return t.kind == Tok::kQuotedIdent ? "\"" + t.text + "\"" : "'" + t.text + "'";
  }

  NodePtr parse_or() {
    Depth depth(*this);
    NodePtr left = parse_and();
    while (is_word("or")) {
      const std::size_t at = next().offset;
      auto node = make(NodeKind::kOr, "OR", {left, parse_and()});
      node->offset = at;
      left = node;
    }
    return left;
  }

  NodePtr parse_and() {
    NodePtr left = parse_not();
    while (is_word("and")) {
      const std::size_t at = next().offset;
      auto node = make(NodeKind::kAnd, "AND", {left, parse_not()});
      node->offset = at;
      left = node;
    }
    return left;
  }

  NodePtr parse_not() {
    if (!is_word("not")) return parse_equality();
    const std::size_t at = next().offset;
    Depth depth(*this);
    auto node = make(NodeKind::kNot, "NOT", {parse_not()});
    node->offset = at;
    return node;
  }

  // AND, OR and NOT may only combine conditions (the CHECK itself and their
  // own operands). As values, "0.5 AND 1" is 0 in SQLite 3.15 (SQLCipher)
  // and 1 in 3.40, and a CHECK must mean the same on every device.
  static void check_conditions(const ExprNode& n, bool condition) {
    const bool logical =
        n.kind == NodeKind::kAnd || n.kind == NodeKind::kOr || n.kind == NodeKind::kNot;
    if (logical && !condition) {
      throw ParseError{n.offset, n.name + " can only combine conditions, not be used as a value"};
    }
    for (const NodePtr& a : n.args) check_conditions(*a, logical);
  }

  NodePtr parse_equality() {
    NodePtr left = parse_relational();
    for (;;) {
      if (is_op("=") || is_op("==") || is_op("!=") || is_op("<>")) {
        const std::string op = next().text;
        const bool equal = op == "=" || op == "==";
        left = make(NodeKind::kCompare, equal ? "=" : "<>", {left, parse_relational()});
      } else if (accept_word("is")) {
        const bool negated = accept_word("not");
        if (!accept_word("null"))
          unexpected(negated ? "expected NULL" : "expected NULL or NOT NULL");
        left = make(NodeKind::kIsNull, "IS NULL", {left}, negated);
      } else if (is_word("in") || is_word("between") || is_word("like") || is_word("glob") ||
                 (is_word("not") && peek(1).kind == Tok::kIdent)) {
        const bool negated = accept_word("not");
        if (accept_word("in")) {
          left = parse_in_list(left, negated);
        } else if (accept_word("between")) {
          NodePtr low = parse_relational();
          if (!accept_word("and")) unexpected("expected AND");
          left = make(NodeKind::kBetween, "BETWEEN", {left, low, parse_relational()}, negated);
        } else if (is_word("like") || is_word("glob")) {
          left = parse_match(left, negated);
        } else {
          unexpected("expected IN, BETWEEN, LIKE or GLOB after NOT");
        }
      } else {
        return left;
      }
    }
  }

  NodePtr parse_match(NodePtr operand, bool negated) {
    const Token& op = next();
    const bool like = lower(op.text) == "like";
    NodePtr pattern = parse_relational();
    for (const NodePtr& side : {operand, pattern}) {
      if (may_be_blob(*side)) {
        throw ParseError{op.offset, std::string(like ? "LIKE" : "GLOB") +
                                        " cannot match a blob (SQLite versions differ)"};
      }
    }
    return make(like ? NodeKind::kLike : NodeKind::kGlob, like ? "LIKE" : "GLOB",
                {operand, pattern}, negated);
  }

  // Blobs come only from blob columns, directly or through substr().
  bool may_be_blob(const ExprNode& n) const {
    if (n.kind == NodeKind::kColumn) {
      return std::find(blob_columns_.begin(), blob_columns_.end(), n.name) != blob_columns_.end();
    }
    return n.kind == NodeKind::kFunction && n.name == "substr" && may_be_blob(*n.args[0]);
  }

  NodePtr parse_in_list(NodePtr operand, bool negated) {
    expect_op("(");
    std::vector<NodePtr> args{std::move(operand)};
    if (is_op(")")) unexpected("expected a literal");
    do {
      args.push_back(parse_literal());
    } while (accept_op(","));
    expect_op(")");
    return make(NodeKind::kIn, "IN", std::move(args), negated);
  }

  // A literal in an IN list: a number (optionally negative), a string or NULL.
  NodePtr parse_literal() {
    const bool minus = is_op("-");
    if (minus) next();
    const Token& t = peek();
    if (t.kind == Tok::kInteger || t.kind == Tok::kReal) return number(next(), minus);
    if (!minus && t.kind == Tok::kString) return make_literal(Value(next().text));
    if (!minus && accept_word("null")) return make_literal(Value());
    unexpected("expected a literal");
  }

  NodePtr parse_relational() {
    NodePtr left = parse_additive();
    while (is_op("<") || is_op("<=") || is_op(">") || is_op(">=")) {
      std::string op = next().text;
      left = make(NodeKind::kCompare, std::move(op), {left, parse_additive()});
    }
    return left;
  }

  NodePtr parse_additive() {
    NodePtr left = parse_multiplicative();
    while (is_op("+") || is_op("-")) {
      std::string op = next().text;
      left = make(NodeKind::kArith, std::move(op), {left, parse_multiplicative()});
    }
    return left;
  }

  NodePtr parse_multiplicative() {
    NodePtr left = parse_concat();
    while (is_op("*") || is_op("/")) {
      std::string op = next().text;
      left = make(NodeKind::kArith, std::move(op), {left, parse_concat()});
    }
    return left;
  }

  NodePtr parse_concat() {
    NodePtr left = parse_unary();
    while (accept_op("||")) left = make(NodeKind::kConcat, "||", {left, parse_unary()});
    return left;
  }

  // A minus before a number makes a negative literal (also "-(1.5)", so that
  // rendering reads back as itself); before anything else, a negation.
  NodePtr parse_unary() {
    if (!accept_op("-")) return parse_primary();
    if (peek().kind == Tok::kInteger || peek().kind == Tok::kReal) return number(next(), true);
    Depth depth(*this);
    NodePtr operand = parse_unary();
    const Value& v = operand->literal;
    if (operand->kind == NodeKind::kLiteral && v.type() == ValueType::kReal) {
      return make_literal(Value(-v.as_real()));
    }
    if (operand->kind == NodeKind::kLiteral && v.type() == ValueType::kInteger &&
        v.as_integer() != std::numeric_limits<std::int64_t>::min()) {
      return make_literal(Value(-v.as_integer()));
    }
    return make(NodeKind::kNegate, "-", {operand});
  }

  NodePtr parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kInteger:
      case Tok::kReal:
        return number(next(), false);
      case Tok::kString:
        return make_literal(Value(next().text));
      case Tok::kQuotedIdent:
        return column(next());
      case Tok::kIdent:
        break;
      case Tok::kOp:
        if (accept_op("(")) {
          NodePtr inner = parse_or();
          expect_op(")");
          return inner;
        }
        unexpected();
      case Tok::kEnd:
        unexpected();
    }
    const std::string word = lower(t.text);
    if (word == "null") {
      next();
      return make_literal(Value());
    }
    if (is_op("(", 1)) return function(next());
    if (is_keyword(word)) unexpected();
    if (is_unsupported_sql(word)) {
      throw ParseError{t.offset, "'" + t.text + "' is not supported in a CHECK"};
    }
    return column(next());
  }

  NodePtr function(const Token& name_token) {
    const std::string name = lower(name_token.text);
    const Function* fn = nullptr;
    for (const Function& f : kFunctions) {
      if (f.name == name) fn = &f;
    }
    if (fn == nullptr) {
      throw ParseError{name_token.offset, "unknown function '" + name_token.text + "'"};
    }
    expect_op("(");
    std::vector<NodePtr> args;
    if (!is_op(")")) {
      do {
        args.push_back(parse_or());
      } while (accept_op(","));
    }
    expect_op(")");
    if (args.size() < fn->min_args || args.size() > fn->max_args) {
      std::string arity = std::to_string(fn->min_args);
      if (fn->max_args != fn->min_args) arity += " or " + std::to_string(fn->max_args);
      throw ParseError{name_token.offset,
                       name + "() takes " + arity + " argument" + (fn->max_args == 1 ? "" : "s")};
    }
    return make(NodeKind::kFunction, name, std::move(args));
  }

  // SQLite matches column names case-insensitively.
  NodePtr column(const Token& t) {
    const std::string name = lower(t.text);
    for (const std::string& c : columns_) {
      if (c == name) return make(NodeKind::kColumn, c, {});
    }
    throw ParseError{t.offset, "unknown column '" + t.text + "'"};
  }

  static NodePtr number(const Token& t, bool negative) {
    const std::string text = negative ? "-" + t.text : t.text;
    if (t.kind == Tok::kInteger) {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) {
        throw ParseError{t.offset, "integer literal out of range: " + text};
      }
      return make_literal(Value(v));
    }
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
      throw ParseError{t.offset, "real literal out of range: " + text};
    }
    return make_literal(Value(v));
  }

  std::vector<Token> tokens_;
  const std::vector<std::string>& columns_;
  const std::vector<std::string>& blob_columns_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------
// Rendering

// Shortest text that reads back as the same double, always with a '.' or an
// exponent so that SQLite keeps it a REAL.
std::string real_sql(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string literal_sql(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kInteger:
      return std::to_string(v.as_integer());
    case ValueType::kReal:
      return real_sql(v.as_real());
    case ValueType::kText:
    case ValueType::kBlob:  // the grammar has no blob literals
      break;
  }
  std::string out = "'";
  for (char c : v.as_text()) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string render(const ExprNode& n) {
  const auto arg = [&](std::size_t i) { return render(*n.args[i]); };
  const std::string negation = n.negated ? "NOT " : "";
  switch (n.kind) {
    case NodeKind::kLiteral:
      return literal_sql(n.literal);
    case NodeKind::kColumn:
      return quote_identifier(n.name);
    case NodeKind::kNegate:
      return "(- " + arg(0) + ")";  // the space keeps "- -x" from becoming a "--" comment
    case NodeKind::kNot:
      return "(NOT " + arg(0) + ")";
    case NodeKind::kAnd:
    case NodeKind::kOr:
    case NodeKind::kCompare:
    case NodeKind::kArith:
    case NodeKind::kConcat:
      return "(" + arg(0) + " " + n.name + " " + arg(1) + ")";
    case NodeKind::kIsNull:
      return "(" + arg(0) + (n.negated ? " IS NOT NULL)" : " IS NULL)");
    case NodeKind::kIn: {
      std::string list;
      for (std::size_t i = 1; i < n.args.size(); ++i) list += (i > 1 ? ", " : "") + arg(i);
      return "(" + arg(0) + " " + negation + "IN (" + list + "))";
    }
    case NodeKind::kBetween:
      return "(" + arg(0) + " " + negation + "BETWEEN " + arg(1) + " AND " + arg(2) + ")";
    case NodeKind::kLike:
    case NodeKind::kGlob:
      return "(" + arg(0) + " " + negation + n.name + " " + arg(1) + ")";
    case NodeKind::kFunction: {
      std::string list;
      for (std::size_t i = 0; i < n.args.size(); ++i) list += (i > 0 ? ", " : "") + arg(i);
      return n.name + "(" + list + ")";
    }
  }
  return "";
}

// ---------------------------------------------------------------------------
// Evaluation, following SQLite 3.15.

// An error SQLite raises while evaluating (abs() of the smallest integer); the
// statement fails, so the CHECK does not pass.
struct EvalError {};

bool is_number(const Value& v) {
  return v.type() == ValueType::kInteger || v.type() == ValueType::kReal;
}

std::string_view bytes_of(const Value& v) {
  if (v.type() == ValueType::kText) return v.as_text();
  const Blob& b = v.as_blob();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// SQLite's "%!.15g": 15 significant digits, always with a decimal point.
std::string real_text(double r) {
  if (std::isinf(r)) return r > 0 ? "Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", r);
  std::string s(buf);
  if (s.find('.') == std::string::npos) {
    const std::size_t e = s.find('e');
    s.insert(e == std::string::npos ? s.size() : e, ".0");
  }
  return s;
}

// REQUIRES: !v.is_null().
std::string to_text(const Value& v) {
  switch (v.type()) {
    case ValueType::kInteger:
      return std::to_string(v.as_integer());
    case ValueType::kReal:
      return real_text(v.as_real());
    default:
      return std::string(bytes_of(v));
  }
}

// The length of the longest prefix of `s` that is a decimal number
// (after leading spaces), 0 when there is none. Sets `integral`.
std::size_t number_prefix(std::string_view s, std::size_t start, bool& integral) {
  std::size_t i = start;
  integral = true;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    integral = false;
    for (++i; i < s.size() && is_digit(s[i]); ++i) ++digits;
  }
  if (digits == 0) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && is_digit(s[j])) {
      integral = false;
      while (j < s.size() && is_digit(s[j])) ++j;
      i = j;
    }
  }
  return i - start;
}

std::size_t skip_spaces(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
                          s[i] == '\f' || s[i] == '\v')) {
    ++i;
  }
  return i;
}

// REQUIRES: `s` is a number_prefix(). Out of range is infinity or zero, as in SQLite.
double parse_double(std::string_view s) {
  if (s[0] == '+') s.remove_prefix(1);  // std::from_chars takes no '+'
  double v = 0;
  if (std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc::result_out_of_range) {
    const std::size_t e = s.find_first_of("eE");
    v = (e != std::string_view::npos && s[e + 1] == '-') ? 0.0 : HUGE_VAL;
    if (s[0] == '-') v = -v;
  }
  return v;
}

// Text as a number, converting only when all of it (spaces aside) is one;
// what SQLite's NUMERIC affinity does. Anything else is returned unchanged.
Value apply_numeric(const Value& v) {
  if (v.type() != ValueType::kText) return v;
  std::string_view s = v.as_text();
  const std::size_t start = skip_spaces(s, 0);
  bool integral = false;
  const std::size_t len = number_prefix(s, start, integral);
  if (len == 0 || skip_spaces(s, start + len) != s.size()) return v;
  const std::string_view num = s.substr(start, len);
  if (integral) {
    std::int64_t i = 0;
    const char* first = num.data() + (num[0] == '+' ? 1 : 0);
    auto [end, ec] = std::from_chars(first, num.data() + num.size(), i);
    if (ec == std::errc() && end == num.data() + num.size()) return Value(i);
  }
  return Value(parse_double(num));
}

// Any value as a number, the way arithmetic sees it: a text's numeric prefix, else 0.
// REQUIRES: !v.is_null().
Value to_number(const Value& v) {
  if (is_number(v)) return v;
  const Value whole = apply_numeric(Value(std::string(bytes_of(v))));
  if (is_number(whole)) return whole;
  std::string_view s = bytes_of(v);
  const std::size_t start = skip_spaces(s, 0);
  bool integral = false;
  const std::size_t len = number_prefix(s, start, integral);
  return Value(len == 0 ? 0.0 : parse_double(s.substr(start, len)));
}

double to_real(const Value& v) {
  const Value n = to_number(v);
  return n.type() == ValueType::kInteger ? static_cast<double>(n.as_integer()) : n.as_real();
}

std::int64_t to_integer(const Value& v) {
  const Value n = to_number(v);
  if (n.type() == ValueType::kInteger) return n.as_integer();
  const double r = n.as_real();
  if (!(r > -9.2233720368547758e18)) return std::numeric_limits<std::int64_t>::min();
  if (!(r < 9.2233720368547758e18)) return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(r);
}

// SQLite's order of storage classes: null < numbers < text < blob.
int class_rank(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return 0;
    case ValueType::kInteger:
    case ValueType::kReal:
      return 1;
    case ValueType::kText:
      return 2;
    case ValueType::kBlob:
      return 3;
  }
  return 0;
}

template <typename T>
int three_way(T x, T y) {
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Exact, as SQLite: 9223372036854775807 < 9223372036854775808.0, though a
// double cannot tell them apart.
int compare_int_real(std::int64_t i, double r) {
  if (r < -0x1p63) return 1;
  if (r >= 0x1p63) return -1;
  const auto whole = static_cast<std::int64_t>(r);  // truncated toward zero
  if (i != whole) return three_way(i, whole);
  return three_way(static_cast<double>(whole), r);
}

// REQUIRES: neither is null.
int compare_values(const Value& a, const Value& b) {
  const int ra = class_rank(a);
  const int rb = class_rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 1) {
    const bool ai = a.type() == ValueType::kInteger;
    const bool bi = b.type() == ValueType::kInteger;
    if (ai && bi) return three_way(a.as_integer(), b.as_integer());
    if (ai) return compare_int_real(a.as_integer(), b.as_real());
    if (bi) return -compare_int_real(b.as_integer(), a.as_real());
    return three_way(a.as_real(), b.as_real());
  }
  const int c = bytes_of(a).compare(bytes_of(b));  // BINARY collation: memcmp
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

enum class Affinity { kNone, kNumeric, kText };

// A column's affinity follows its declared type; values are coerced to that
// type before CHECKs run, so the value's storage class tells it. Any other
// expression has no affinity.
Affinity affinity_of(const ExprNode& n, const Value& v) {
  if (n.kind != NodeKind::kColumn) return Affinity::kNone;
  if (is_number(v)) return Affinity::kNumeric;
  return v.type() == ValueType::kText ? Affinity::kText : Affinity::kNone;
}

Value apply_text(const Value& v) { return is_number(v) ? Value(to_text(v)) : v; }

// Compares as SQLite does after applying the operands' affinities:
// numeric wins over text and none; text applies to an operand without affinity.
std::optional<int> compare(const ExprNode& ln, Value l, const ExprNode& rn, Value r) {
  if (l.is_null() || r.is_null()) return std::nullopt;
  const Affinity la = affinity_of(ln, l);
  const Affinity ra = affinity_of(rn, r);
  if (la == Affinity::kNumeric && ra != Affinity::kNumeric) {
    r = apply_numeric(r);
  } else if (ra == Affinity::kNumeric && la != Affinity::kNumeric) {
    l = apply_numeric(l);
  } else if (la == Affinity::kText && ra == Affinity::kNone) {
    r = apply_text(r);
  } else if (ra == Affinity::kText && la == Affinity::kNone) {
    l = apply_text(l);
  }
  return compare_values(l, r);
}

Value truth(bool b) { return Value(std::int64_t{b ? 1 : 0}); }

// NULL stays NULL (unknown); otherwise nonzero is true.
std::optional<bool> truth_of(const Value& v) {
  if (v.is_null()) return std::nullopt;
  return to_real(v) != 0.0;
}

Value from_tri(std::optional<bool> b) { return b ? truth(*b) : Value(); }

std::optional<bool> tri_not(std::optional<bool> b) {
  if (b) return !*b;
  return std::nullopt;
}

// The length in bytes of the UTF-8 character at s[i]; a malformed byte counts as one.
std::size_t char_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t len = c < 0xc0 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  return i + len > s.size() ? 1 : len;
}

std::vector<std::uint32_t> code_points(std::string_view s) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = char_len(s, i);
    const auto lead = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = len == 1 ? lead : (lead & (0x7f >> len));
    for (std::size_t k = 1; k < len; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::uint32_t fold(std::uint32_t c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

// GLOB's "[...]" at p[i] ('[' itself); sets `end` past the closing ']'.
// An unterminated class matches nothing, as in SQLite.
bool class_matches(const std::vector<std::uint32_t>& p, std::size_t i, std::uint32_t c,
                   std::size_t& end) {
  ++i;
  const bool invert = i < p.size() && p[i] == '^';
  if (invert) ++i;
  bool seen = false;
  if (i < p.size() && p[i] == ']') {  // a leading ']' is literal
    seen = c == ']';
    ++i;
  }
  std::uint32_t prior = 0;
  for (; i < p.size() && p[i] != ']'; ++i) {
    if (p[i] == '-' && prior != 0 && i + 1 < p.size() && p[i + 1] != ']') {
      ++i;
      seen = seen || (c >= prior && c <= p[i]);
      prior = 0;
    } else {
      seen = seen || c == p[i];
      prior = p[i];
    }
  }
  if (i >= p.size()) {
    end = p.size();
    return false;
  }
  end = i + 1;
  return seen != invert;
}

// LIKE (% _, ASCII case-insensitive) or GLOB (* ? [...], case-sensitive):
// a single backtrack point on the last multi-character wildcard suffices.
bool pattern_match(std::string_view pattern, std::string_view text, bool glob) {
  const auto p = code_points(pattern);
  const auto s = code_points(text);
  const std::uint32_t any = glob ? '*' : '%';
  const std::uint32_t one = glob ? '?' : '_';
  std::size_t pi = 0, si = 0, star = std::string::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == any) {
      star = pi++;
      mark = si;
      continue;
    }
    if (pi < p.size()) {
      std::size_t next_pi = pi + 1;
      bool ok = false;
      if (p[pi] == one) {
        ok = true;
      } else if (glob && p[pi] == '[') {
        ok = class_matches(p, pi, s[si], next_pi);
      } else {
        ok = glob ? p[pi] == s[si] : fold(p[pi]) == fold(s[si]);
      }
      if (ok) {
        pi = next_pi;
        ++si;
        continue;
      }
    }
    if (star == std::string::npos) return false;
    pi = star + 1;
    si = ++mark;
  }
  while (pi < p.size() && p[pi] == any) ++pi;
  return pi == p.size();
}

// A real, or text that is wholly a real number.
bool is_real_typed(const Value& v) {
  return v.type() == ValueType::kReal ||
         (v.type() == ValueType::kText && apply_numeric(v).type() == ValueType::kReal);
}

Value arith(const std::string& op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return Value();
  const Value x = to_number(a);
  const Value y = to_number(b);
  const bool int_int = x.type() == ValueType::kInteger && y.type() == ValueType::kInteger;
  if (int_int) {
    const std::int64_t i = x.as_integer();
    const std::int64_t j = y.as_integer();
    std::int64_t r = 0;
    // On overflow SQLite falls back to real arithmetic.
    if (op == "+" && !__builtin_add_overflow(i, j, &r)) return Value(r);
    if (op == "-" && !__builtin_sub_overflow(i, j, &r)) return Value(r);
    if (op == "*" && !__builtin_mul_overflow(i, j, &r)) return Value(r);
    if (op == "/") {
      if (j == 0) return Value();
      if (!(j == -1 && i == std::numeric_limits<std::int64_t>::min())) return Value(i / j);
    }
  }
  const double i = to_real(x);
  const double j = to_real(y);
  double r = 0;
  if (op == "+") {
    r = i + j;
  } else if (op == "-") {
    r = i - j;
  } else if (op == "*") {
    r = i * j;
  } else {
    if (j == 0.0) return Value();
    r = i / j;
  }
  if (std::isnan(r)) return Value();
  // With no real operand ('abc' + 1), SQLite makes an integral result an integer.
  if (!int_int && !is_real_typed(a) && !is_real_typed(b) && r == std::trunc(r) && r > -0x1p63 &&
      r < 0x1p63) {
    return Value(static_cast<std::int64_t>(r));
  }
  return Value(r);
}

std::string ascii_case(std::string s, bool upper) {
  for (char& c : s) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper) c = ascii_lower(c);
  }
  return s;
}

// substr(x, start, length) exactly as SQLite 3.15 computes it: 1-based, a
// negative start counts from the end, a negative length takes characters
// before start; characters for text, bytes for blobs.
Value substr(const Value& x, std::int64_t p1, std::optional<std::int64_t> length) {
  const bool blob = x.type() == ValueType::kBlob;
  if (blob && x.as_blob().empty()) return Value();  // SQLite sees no bytes at all
  const std::string s = to_text(x);
  std::vector<std::size_t> starts;  // the byte offset of each character, then the end
  for (std::size_t i = 0; i < s.size(); i += blob ? 1 : char_len(s, i)) starts.push_back(i);
  starts.push_back(s.size());
  const auto len = static_cast<std::int64_t>(starts.size() - 1);
  std::int64_t p2 = length ? *length : std::numeric_limits<std::int32_t>::max();
  const bool neg_p2 = p2 < 0;
  if (neg_p2) p2 = -p2;
  if (p1 < 0) {
    p1 += len;
    if (p1 < 0) {
      p2 += p1;
      if (p2 < 0) p2 = 0;
      p1 = 0;
    }
  } else if (p1 > 0) {
    --p1;
  } else if (p2 > 0) {
    --p2;
  }
  if (neg_p2) {
    p1 -= p2;
    if (p1 < 0) {
      p2 += p1;
      p1 = 0;
    }
  }
  p1 = std::min(p1, len);
  p2 = std::min(p2, len - p1);
  const std::size_t begin = starts[p1];
  const std::size_t end = starts[p1 + p2];
  if (blob) return Value(Blob(s.begin() + begin, s.begin() + end));
  return Value(s.substr(begin, end - begin));
}

Value call(const std::string& name, const std::vector<Value>& a) {
  for (const Value& v : a) {
    if (v.is_null() && name != "typeof") return Value();
  }
  const Value& x = a[0];
  if (name == "typeof") {
    static constexpr const char* kNames[] = {"null", "integer", "real", "text", "blob"};
    return Value(kNames[static_cast<int>(x.type())]);
  }
  if (name == "length") {
    if (x.type() == ValueType::kBlob) return Value(static_cast<std::int64_t>(x.as_blob().size()));
    return Value(static_cast<std::int64_t>(code_points(to_text(x)).size()));
  }
  if (name == "lower" || name == "upper") return Value(ascii_case(to_text(x), name == "upper"));
  if (name == "abs") {
    if (x.type() == ValueType::kInteger) {
      if (x.as_integer() == std::numeric_limits<std::int64_t>::min()) throw EvalError{};
      return Value(x.as_integer() < 0 ? -x.as_integer() : x.as_integer());
    }
    return Value(std::fabs(to_real(x)));
  }
  // substr reads its positions as 32-bit ints (sqlite3_value_int).
  const auto int32 = [](const Value& v) {
    return static_cast<std::int64_t>(static_cast<std::int32_t>(to_integer(v)));
  };
  return substr(x, int32(a[1]),
                a.size() > 2 ? std::optional<std::int64_t>(int32(a[2])) : std::nullopt);
}

Value eval(const ExprNode& n, const Row& row) {
  const auto arg = [&](std::size_t i) { return eval(*n.args[i], row); };
  switch (n.kind) {
    case NodeKind::kLiteral:
      return n.literal;
    case NodeKind::kColumn: {
      auto it = row.find(n.name);
      return it == row.end() ? Value() : it->second;
    }
    case NodeKind::kNegate:
      return arith("-", Value(std::int64_t{0}), arg(0));
    case NodeKind::kNot:
      return from_tri(tri_not(truth_of(arg(0))));
    case NodeKind::kAnd: {
      const auto l = truth_of(arg(0));
      if (l == false) return truth(false);
      const auto r = truth_of(arg(1));
      if (r == false) return truth(false);
      return (l && r) ? truth(true) : Value();
    }
    case NodeKind::kOr: {
      const auto l = truth_of(arg(0));
      if (l == true) return truth(true);
      const auto r = truth_of(arg(1));
      if (r == true) return truth(true);
      return (l && r) ? truth(false) : Value();
    }
    case NodeKind::kCompare: {
      const auto c = compare(*n.args[0], arg(0), *n.args[1], arg(1));
      if (!c) return Value();
      const std::string& op = n.name;
      return truth(op == "="    ? *c == 0
                   : op == "<>" ? *c != 0
                   : op == "<"  ? *c < 0
                   : op == "<=" ? *c <= 0
                   : op == ">"  ? *c > 0
                                : *c >= 0);
    }
    case NodeKind::kArith:
      return arith(n.name, arg(0), arg(1));
    case NodeKind::kConcat: {
      const Value l = arg(0);
      const Value r = arg(1);
      if (l.is_null() || r.is_null()) return Value();
      return Value(to_text(l) + to_text(r));
    }
    case NodeKind::kIsNull:
      return truth(arg(0).is_null() != n.negated);
    case NodeKind::kIn: {
      const Value x = arg(0);
      if (x.is_null()) return Value();
      bool saw_null = false;
      for (std::size_t i = 1; i < n.args.size(); ++i) {
        const auto c = compare(*n.args[0], x, *n.args[i], n.args[i]->literal);
        if (!c) {
          saw_null = true;
        } else if (*c == 0) {
          return truth(!n.negated);
        }
      }
      return saw_null ? Value() : truth(n.negated);
    }
    case NodeKind::kBetween: {
      const Value x = arg(0);
      const auto low = compare(*n.args[0], x, *n.args[1], arg(1));
      const auto high = compare(*n.args[0], x, *n.args[2], arg(2));
      std::optional<bool> in_range;  // low AND high, three-valued
      if ((low && *low < 0) || (high && *high > 0)) {
        in_range = false;
      } else if (low && high) {
        in_range = true;
      }
      return from_tri(n.negated ? tri_not(in_range) : in_range);
    }
    case NodeKind::kLike:
    case NodeKind::kGlob: {
      const Value x = arg(0);
      const Value pattern = arg(1);
      if (x.is_null() || pattern.is_null()) return Value();
      const bool m = pattern_match(to_text(pattern), to_text(x), n.kind == NodeKind::kGlob);
      return truth(m != n.negated);
    }
    case NodeKind::kFunction: {
      std::vector<Value> values;
      for (std::size_t i = 0; i < n.args.size(); ++i) values.push_back(arg(i));
      return call(n.name, values);
    }
  }
  return Value();
}

}  // namespace

Result<CheckExpr> CheckExpr::parse(std::string_view text, const std::vector<std::string>& columns,
                                   const std::vector<std::string>& blob_columns) {
  try {
    Parser parser(tokenize(text), columns, blob_columns);
    CheckExpr expr;
    expr.root_ = parser.parse_all();
    expr.sql_ = render(*expr.root_);
    expr.source_ = std::string(text);
    return expr;
  } catch (const ParseError& e) {
    return Status(ErrorCode::kSchemaInvalid,
                  "at offset " + std::to_string(e.offset) + ": " + e.message);
  }
}

bool CheckExpr::passes(const Row& row) const {
  if (!root_) return true;
  try {
    return truth_of(eval(*root_, row)) != false;
  } catch (const EvalError&) {
    return false;
  }
}

}  // namespace lumbung::core
